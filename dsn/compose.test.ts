import { test } from 'node:test';
import assert from 'node:assert/strict';
import { composeDsn, foldField, type DsnInput, type DsnRecipient } from './compose.js';
import { parseDsn } from './parse.js';
import { analyzeBounce } from './bounce.js';
import { ACTIONS } from './fields.js';
import { parseBuffer } from '../message/part.js';
import { parseHeader } from '../message/header.js';
import { partBody, decodeHeaderValue } from '../message/decode.js';

const original = Buffer.from(
  [
    'From: Alice <alice@example.org>',
    'To: bob@example.com',
    'Subject: quarterly figures',
    'Message-ID: <orig-1@example.org>',
    'Date: Sat, 21 Nov 2026 10:00:00 +0000',
    '',
    'Hello Bob,',
    'the figures.',
    '',
  ].join('\r\n'),
);

const originalUtf8 = Buffer.from(
  ['From: Ålice <ålice@exämple.org>', 'To: 用户@例子.测试', 'Subject: Grüße', 'Message-ID: <orig-2@example.org>', '', 'Hallo.', ''].join('\r\n'),
  'utf8',
);

const t0 = new Date('2026-11-21T10:00:00Z');
const t1 = new Date('2026-11-21T10:05:00Z');
const t2 = new Date('2026-11-22T14:00:00Z');

function recipient(action: DsnRecipient['action'], addr = 'bob@example.com'): DsnRecipient {
  const st = action === 'failed' ? '5.1.1' : action === 'delayed' ? '4.4.1' : '2.0.0';
  const r: DsnRecipient = {
    finalRecipient: addr,
    originalRecipient: `orig+${action}@example.com`,
    action,
    status: st,
    statusComment: action === 'failed' ? 'mailbox (really) unavailable' : 'ok',
    remoteMTA: { name: 'mx.example.com', ip: '192.0.2.10' },
    diagnosticCode:
      action === 'failed'
        ? '550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown in virtual mailbox table; this line is long enough to need folding  twice over'
        : action === 'delayed'
          ? '451 4.4.1 Temporary lookup failure'
          : '250 2.0.0 Ok: queued as 4ABC',
    lastAttemptDate: t1,
    finalLogID: `log-${action}`,
  };
  if (action === 'delayed') r.willRetryUntil = t2;
  return r;
}

function input(recipients: DsnRecipient[], extra: Partial<DsnInput> = {}): DsnInput {
  return {
    hostname: 'mail.example.net',
    to: 'alice@example.org',
    date: t1,
    originalEnvelopeID: 'env id+1=x',
    receivedFromMTA: { name: 'client.example.org', ip: '198.51.100.7' },
    arrivalDate: t0,
    recipients,
    original,
    ...extra,
  };
}

function checkRoundTrip(inp: DsnInput, utf8: boolean) {
  const msg = composeDsn(inp);
  // CRLF only, and lines ≤ 78 where practical (our own header and status fields).
  assert.equal(/(?<!\r)\n/.test(msg.toString('latin1')), false, 'bare LF');
  const p = parseDsn(msg);
  assert.ok(p, 'parses as DSN');
  assert.equal(p.utf8, utf8);
  assert.equal(p.reportingMTA, 'mail.example.net');
  assert.equal(p.envelopeID, inp.originalEnvelopeID);
  assert.equal(p.receivedFromMTA, 'client.example.org');
  assert.equal(p.receivedFromMTAComment, '198.51.100.7');
  assert.equal(p.arrivalDate?.getTime(), t0.getTime());
  assert.equal(p.recipients.length, inp.recipients.length);
  inp.recipients.forEach((r, i) => {
    const g = p.recipients[i]!;
    assert.equal(g.address, r.finalRecipient);
    assert.equal(g.finalRecipient, r.finalRecipient);
    assert.equal(g.finalRecipientType, /^[\x00-\x7f]*$/.test(r.finalRecipient) ? 'rfc822' : 'utf-8');
    assert.equal(g.originalRecipient, r.originalRecipient);
    assert.equal(g.action, r.action);
    assert.equal(g.status, r.status);
    assert.equal(g.statusComment, r.statusComment);
    assert.equal(g.remoteMTA, r.remoteMTA?.name);
    assert.equal(g.remoteIP, r.remoteMTA?.ip);
    assert.equal(g.diagnostic, r.diagnosticCode);
    assert.equal(g.diagnosticType, 'smtp');
    assert.equal(g.smtpCode, Number(r.diagnosticCode!.slice(0, 3)));
    assert.equal(g.enhancedCode, r.status);
    assert.equal(g.lastAttemptDate?.getTime(), r.lastAttemptDate?.getTime());
    assert.equal(g.willRetryUntil?.getTime(), r.willRetryUntil?.getTime());
    assert.equal(g.finalLogID, r.finalLogID);
  });
  assert.deepEqual(p.errors, []);
  // Structure, with message/'s parser.
  const root = parseBuffer(msg);
  assert.equal(`${root.mediaType}/${root.mediaSubType}`, 'MULTIPART/REPORT');
  assert.equal(root.contentTypeParams['report-type'], 'delivery-status');
  assert.equal(root.parts.length, inp.original ? 3 : 2);
  assert.equal(root.parts[0]!.mediaType + '/' + root.parts[0]!.mediaSubType, 'TEXT/PLAIN');
  assert.equal(root.parts[1]!.mediaSubType, utf8 ? 'GLOBAL-DELIVERY-STATUS' : 'DELIVERY-STATUS');
  const h = parseHeader(msg.subarray(0, root.bodyOffset));
  assert.equal(h.get('auto-submitted'), 'auto-replied');
  assert.match(h.get('message-id') ?? '', /^<[A-Za-z0-9_-]+@mail\.example\.net>$/);
  assert.equal(h.get('from'), '<postmaster@mail.example.net>');
  assert.equal(h.get('to'), `<${inp.to}>`);
  assert.ok(h.get('date'));
  return { msg, p, root, h };
}

for (const action of ACTIONS) {
  test(`round trip, ASCII, action ${action}`, () => {
    const { msg, p, root, h } = checkRoundTrip(input([recipient(action)]), false);
    assert.equal(root.parts[2]!.mediaType + '/' + root.parts[2]!.mediaSubType, 'TEXT/RFC822-HEADERS');
    assert.equal(p.originalMessageID, '<orig-1@example.org>');
    assert.equal(p.returnedHeaders?.get('subject'), 'quarterly figures');
    assert.equal(h.get('in-reply-to'), '<orig-1@example.org>');
    assert.equal(h.get('references'), '<orig-1@example.org>');
    const subject = action === 'failed' ? 'Delivery failure' : action === 'delayed' ? 'Delivery delayed' : 'Delivery report';
    assert.equal(h.get('subject'), `${subject}: quarterly figures`);
    for (const line of msg.toString('latin1').split('\r\n')) assert.ok(line.length <= 78, `long line: ${line}`);
    const text = partBody(msg, root.parts[0]!).toString('utf8');
    assert.match(text, /bob@example\.com/);
    if (action === 'failed') assert.match(text, /could not be delivered.*permanent error/s);
    if (action === 'delayed') assert.match(text, /keep trying until Sun, 22 Nov 2026 14:00:00 UTC/);
    // And as a bounce.
    const b = analyzeBounce(msg);
    assert.equal(b.kind, 'dsn');
    assert.equal(b.recipients[0]!.address, 'bob@example.com');
    assert.equal(b.originalMessageID, '<orig-1@example.org>');
    assert.equal(b.class, action === 'failed' ? 'userunknown' : action === 'delayed' ? 'temporary' : 'delivered');
  });
}

for (const action of ACTIONS) {
  test(`round trip, UTF-8 recipient and original, action ${action}`, () => {
    const r = recipient(action, 'bøb.用户@exämple.com');
    r.originalRecipient = 'ørig@exämple.com';
    const { p, root, h } = checkRoundTrip(input([r], { original: originalUtf8 }), true);
    assert.equal(root.parts[2]!.mediaType + '/' + root.parts[2]!.mediaSubType, 'MESSAGE/GLOBAL-HEADERS');
    assert.equal(p.originalMessageID, '<orig-2@example.org>');
    assert.match(h.get('subject') ?? '', /^Delivery \w+: =\?UTF-8\?Q\?/i);
    assert.match(decodeHeaderValue(h.get('subject') ?? ''), /: Grüße$/);
  });
}

test('multiple recipients with mixed actions; RET=FULL returns the message', () => {
  const inp = input([recipient('failed'), recipient('delayed', 'carol@example.com'), recipient('delivered', 'dave@example.com')], { ret: 'FULL' });
  const { msg, root } = checkRoundTrip(inp, false);
  assert.equal(root.parts[2]!.mediaSubType, 'RFC822');
  const m = root.parts[2]!.message!;
  assert.deepEqual(msg.subarray(m.headerOffset, m.endOffset), original);
  const h = parseHeader(msg.subarray(0, root.bodyOffset));
  assert.match(h.get('subject') ?? '', /^Delivery failure/);
});

test('RET=FULL over the size limit returns headers only', () => {
  const { root } = checkRoundTrip(input([recipient('failed')], { ret: 'FULL', maxFullSize: 10 }), false);
  assert.equal(root.parts[2]!.mediaSubType, 'RFC822-HEADERS');
});

test('UTF-8 recipient in an ASCII report is encoded as utf-8-addr-xtext', () => {
  // Force an ASCII report: a non-ASCII final recipient always makes it global, so check the
  // encoder directly through a parse of a hand-written status part.
  const msg = Buffer.from(
    [
      'Content-Type: multipart/report; report-type=delivery-status; boundary=b',
      '',
      '--b',
      '',
      'text',
      '--b',
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns; x.example',
      '',
      'Final-Recipient: utf-8; b\\x{F8}b@ex\\x{E4}mple.com',
      'Original-Recipient: rfc822; a+2Bb+3Dc@example.com',
      'Action: failed',
      'Status: 5.1.1',
      '--b--',
      '',
    ].join('\r\n'),
  );
  const p = parseDsn(msg)!;
  assert.equal(p.recipients[0]!.address, 'bøb@exämple.com');
  assert.equal(p.recipients[0]!.originalRecipient, 'a+b=c@example.com');
});

test('no original: two parts, subject names the recipients', () => {
  const inp = input([recipient('failed')]);
  delete inp.original;
  const { h, root } = checkRoundTrip(inp, false);
  assert.equal(root.parts.length, 2);
  assert.equal(h.get('subject'), 'Delivery failure: bob@example.com');
  assert.equal(h.get('references'), undefined);
});

test('foldField keeps values intact when unfolded', () => {
  const v = 'smtp; 550 5.1.1 ' + 'word '.repeat(40) + ' double  space';
  const f = foldField('Diagnostic-Code', v);
  for (const l of f.split('\r\n')) assert.ok(l.length <= 78);
  assert.equal(f.replace(/\r\n/g, ''), `Diagnostic-Code: ${v}`);
});

test('receiver without SMTPUTF8: a 7-bit report with utf-8-addr-xtext and base64 UTF-8 parts', () => {
  const r = recipient('failed', 'bøb.用户@exämple.com');
  r.originalRecipient = 'ørig+x@exämple.com';
  const msg = composeDsn(input([r], { original: originalUtf8, smtputf8: false, ret: 'FULL' }));
  for (const b of msg) assert.ok(b < 0x80, 'all 7-bit');
  const root = parseBuffer(msg);
  assert.equal(root.parts[1]!.mediaSubType, 'DELIVERY-STATUS');
  assert.equal(root.parts[2]!.mediaSubType, 'RFC822-HEADERS', 'headers only, no RET=FULL when downgraded');
  assert.equal(root.parts[2]!.contentTransferEncoding, 'BASE64');
  assert.match(msg.toString('latin1'), /Final-Recipient: utf-8; b\\x\{F8\}b\.\\x\{7528\}\\x\{6237\}@ex\\x\{E4\}mple\.com/);
  const p = parseDsn(msg)!;
  assert.equal(p.utf8, false);
  assert.equal(p.recipients[0]!.address, 'bøb.用户@exämple.com');
  assert.equal(p.recipients[0]!.originalRecipient, 'ørig+x@exämple.com');
  assert.equal(p.originalMessageID, '<orig-2@example.org>');
  assert.equal(p.returnedHeaders?.get('subject'), 'Grüße');
  assert.match(p.textBody ?? '', /Grüße/);
});

test('Original-Recipient from a stored ORCPT ("type;address", smtp/parse parseOrcpt) round-trips', () => {
  const cases: Array<[string, string, string, boolean]> = [
    ['rfc822;orig+x@example.com', 'orig+x@example.com', 'rfc822', true],
    ['utf-8;ørig@exämple.com', 'ørig@exämple.com', 'utf-8', true],
    ['utf-8;ørig@exämple.com', 'ørig@exämple.com', 'utf-8', false],
    ['x400;c=de;a=x', 'c=de;a=x', 'x400', true],
    ['plain@example.com', 'plain@example.com', 'rfc822', true],
  ];
  for (const [orcpt, address, type, smtputf8] of cases) {
    const r = recipient('failed');
    r.originalRecipient = orcpt;
    const msg = composeDsn(input([r], { smtputf8 }));
    assert.doesNotMatch(msg.toString('utf8'), /rfc822; rfc822|utf-8; utf-8/, orcpt);
    const p = parseDsn(msg)!;
    const g = p.recipients[0]!;
    assert.equal(g.originalRecipient, address, orcpt);
    assert.equal(g.originalRecipientType, type, orcpt);
    assert.match(p.textBody ?? '', new RegExp(`originally addressed to ${address.replace(/[.+*?^$()[\]{}|\\]/g, '\\$&')}`), 'the text shows the address');
  }
});
