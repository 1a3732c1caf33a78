// Hand-written reports with the deviations real MTAs produce.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDsn } from './parse.js';
import { analyzeBounce } from './bounce.js';
import { decodeXtext, encodeXtext, findCodes, stripComments } from './fields.js';

function msg(lines: string[], eol = '\r\n'): Buffer {
  return Buffer.from(lines.join(eol), 'utf8');
}

test('lenient parse: case, folding, comments, missing blank line, missing Status, LF endings, extra parts', () => {
  const m = msg(
    [
      'From: MAILER-DAEMON@mx.example.net',
      'To: alice@example.org',
      'Subject: Undelivered Mail',
      'content-type: MULTIPART/REPORT; REPORT-TYPE=DELIVERY-STATUS; boundary="xx"',
      '',
      '--xx',
      'Content-Type: text/plain',
      '',
      'Sorry.',
      '--xx',
      'Content-Type: Message/Delivery-Status',
      '',
      'reporting-mta: DNS; mx.example.net (Postfix)',
      'ORIGINAL-ENVELOPE-ID: id+2Bx',
      'Arrival-Date: Sat, 21 Nov 2026 10:00:00 +0100 (CET)',
      '',
      'final-recipient: RFC822; <Bob@Example.COM>',
      'action: FAILED',
      'status: 5.1.1 (bad (nested) mailbox)',
      'remote-mta: dns; [192.0.2.5]',
      'diagnostic-code: SMTP; 550-5.1.1 The email account that you tried to reach does',
      '\tnot exist. Please try',
      '    double-checking.',
      'Final-Recipient: rfc822;carol@example.com',
      'Action: delayed',
      'Diagnostic-Code: X-Postfix; connect to mx.example.com: Connection timed out',
      '--xx',
      'Content-Type: text/rfc822-headers',
      '',
      'Message-Id: <orig@example.org>',
      'Subject: hi',
      '--xx',
      'Content-Type: text/plain',
      '',
      'an extra part',
      '--xx--',
      '',
    ],
    '\n',
  );
  const p = parseDsn(m)!;
  assert.ok(p);
  assert.equal(p.reportingMTA, 'mx.example.net');
  assert.equal(p.envelopeID, 'id+x');
  assert.equal(p.arrivalDate?.toISOString(), '2026-11-21T09:00:00.000Z');
  assert.equal(p.originalMessageID, '<orig@example.org>');
  assert.equal(p.textBody, 'Sorry.');
  assert.equal(p.recipients.length, 2);
  const [b, c] = p.recipients as [NonNullable<(typeof p.recipients)[0]>, NonNullable<(typeof p.recipients)[0]>];
  assert.equal(b.address, 'Bob@Example.COM');
  assert.equal(b.action, 'failed');
  assert.equal(b.status, '5.1.1');
  assert.equal(b.statusComment, 'bad (nested) mailbox');
  assert.equal(b.remoteMTA, '192.0.2.5');
  assert.equal(b.remoteIP, '192.0.2.5');
  assert.equal(b.diagnostic, '550-5.1.1 The email account that you tried to reach does\tnot exist. Please try double-checking.');
  assert.equal(b.smtpCode, 550);
  assert.equal(b.enhancedCode, '5.1.1');
  assert.equal(c.address, 'carol@example.com');
  assert.equal(c.action, 'delayed');
  assert.equal(c.status, '4.0.0', 'missing Status defaults by action');
  assert.equal(c.diagnosticType, 'x-postfix');
  assert.ok(p.errors.includes('missing Status'));
  const a = analyzeBounce(m);
  assert.equal(a.recipients[0]!.class, 'userunknown');
  assert.equal(a.recipients[1]!.class, 'temporary');
  assert.equal(a.recipients[1]!.permanent, false);
});

test('global delivery status with a raw UTF-8 recipient, base64-encoded, inside a forwarded message', () => {
  const status = Buffer.from('Reporting-MTA: dns; mx.example\r\n\r\nFinal-Recipient: utf-8; ünïcødé@exämple.com\r\nAction: failed\r\nStatus: 5.2.2\r\n', 'utf8').toString('base64');
  const m = msg([
    'From: someone@example.org',
    'Subject: Fwd: bounce',
    'Content-Type: multipart/mixed; boundary=outer',
    '',
    '--outer',
    'Content-Type: message/rfc822',
    '',
    'Content-Type: multipart/report; report-type=delivery-status; boundary=inner',
    '',
    '--inner',
    'Content-Type: message/global-delivery-status',
    'Content-Transfer-Encoding: base64',
    '',
    status,
    '--inner--',
    '--outer--',
    '',
  ]);
  const p = parseDsn(m)!;
  assert.equal(p.utf8, true);
  assert.equal(p.recipients[0]!.address, 'ünïcødé@exämple.com');
  assert.equal(p.recipients[0]!.finalRecipientType, 'utf-8');
  assert.equal(p.recipients[0]!.status, '5.2.2');
  assert.equal(analyzeBounce(m).class, 'mailboxfull');
});

test('not a DSN: undefined from parseDsn, notabounce from analyzeBounce', () => {
  const m = msg(['From: a@example.org', 'To: b@example.com', 'Subject: lunch?', '', 'Shall we have lunch at noon?', '']);
  assert.equal(parseDsn(m), undefined);
  const r = analyzeBounce(m);
  assert.equal(r.kind, 'notabounce');
  assert.equal(r.isBounce, false);
  assert.equal(parseDsn(Buffer.alloc(0)), undefined);
});

test('out-of-office is an autoreply, not a bounce', () => {
  const m = msg(['From: b@example.com', 'To: a@example.org', 'Subject: Out of Office: lunch?', 'Auto-Submitted: auto-replied', '', 'I am away until Monday.', '']);
  const r = analyzeBounce(m);
  assert.equal(r.kind, 'autoreply');
  assert.equal(r.class, 'autoreply');
});

test('qmail and Exim text bounces, X-Failed-Recipients', () => {
  const q = analyzeBounce(
    msg([
      'From: MAILER-DAEMON@mx.example.net',
      'To: alice@example.org',
      'Subject: failure notice',
      '',
      'Hi. This is the qmail-send program at mx.example.net.',
      "I'm afraid I wasn't able to deliver your message to the following addresses.",
      '',
      '<bob@example.com>:',
      '192.0.2.1 does not like recipient.',
      'Remote host said: 552 5.2.2 Mailbox full',
      '',
      '--- Below this line is a copy of the message.',
      '',
      'Message-ID: <o@example.org>',
      'To: bob@example.com',
      '',
    ]),
  );
  assert.equal(q.source, 'qmail');
  assert.equal(q.recipients[0]!.address, 'bob@example.com');
  assert.equal(q.recipients[0]!.smtpCode, 552);
  assert.equal(q.class, 'mailboxfull');
  assert.equal(q.originalMessageID, '<o@example.org>');
  const e = analyzeBounce(
    msg([
      'From: Mail Delivery System <Mailer-Daemon@mx.example.net>',
      'To: alice@example.org',
      'Subject: Mail delivery failed: returning message to sender',
      'X-Failed-Recipients: carol@example.com',
      '',
      'This message was created automatically by mail delivery software.',
      '',
      'A message that you sent could not be delivered to one or more of its',
      'recipients. This is a permanent error. The following address(es) failed:',
      '',
      '  carol@example.com',
      '    host mx.example.com [192.0.2.2]',
      '    SMTP error from remote mail server after RCPT TO:<carol@example.com>:',
      '    550 5.7.1 Message rejected: listed at zen.spamhaus.org',
      '',
    ]),
  );
  assert.equal(e.source, 'exim');
  assert.equal(e.recipients[0]!.address, 'carol@example.com');
  assert.equal(e.recipients[0]!.enhancedCode, '5.7.1');
  assert.equal(e.class, 'blocked');
});

test('field helpers', () => {
  assert.deepEqual(stripComments('5.1.1 (a (b) c) x'), { text: '5.1.1 x', comments: ['a (b) c'] });
  assert.equal(decodeXtext(encodeXtext('a+b=c d@é.example')), 'a+b=c d@é.example');
  assert.equal(decodeXtext('user+tag@x'), 'user+tag@x');
  assert.equal(decodeXtext('user+41@x'), 'user+41@x');
  assert.deepEqual(findCodes('550 5.1.1 no such user'), { smtpCode: 550, enhancedCode: '5.1.1' });
  assert.deepEqual(findCodes('host said: 452 4.2.2 over quota (in reply to RCPT)'), { smtpCode: 452, enhancedCode: '4.2.2' });
  assert.deepEqual(findCodes('Sorry (#5.1.1) at 192.168.1.2'), { smtpCode: undefined, enhancedCode: '5.1.1' });
});

test('a person quoting an SMTP error is not a bounce', () => {
  const m = msg([
    'From: Carol <carol@example.org>',
    'To: help@example.net',
    'Subject: question about my mail server',
    '',
    'Hi, my server logs show this:',
    '550 5.1.1 <x@example.com>: user unknown',
    'What does the error mean?',
    '',
  ]);
  const r = analyzeBounce(m);
  assert.equal(r.isBounce, false);
  assert.equal(r.kind, 'notabounce');
});
