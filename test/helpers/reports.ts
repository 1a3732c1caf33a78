/**
 * Reports a remote would send back about a message we sent, for tests of queue/incoming.ts and
 * the bounce scenarios: an rfc3464 DSN (composed with dsn/compose.ts as a remote MTA would), a
 * qmail-style plain-text bounce, an rfc5965 ARF complaint, and an ordinary reply.
 */
import { composeDsn, type DsnRecipient } from '../../dsn/compose.js';

export interface Original {
  from: string;
  to: string;
  messageId: string;
  subject?: string;
}

export function originalMessage(o: Original): Buffer {
  return Buffer.from(
    [`From: <${o.from}>`, `To: <${o.to}>`, `Subject: ${o.subject ?? 'hi'}`, `Message-ID: ${o.messageId}`, 'Date: Sat, 21 Nov 2026 10:00:00 +0000', '', 'hello', ''].join('\r\n'),
  );
}

/** An rfc3464 DSN from mx.remote.example to `to` (our MAIL FROM, e.g. a fromid address). */
export function remoteDsn(o: {
  to: string;
  recipients: DsnRecipient[];
  original?: Buffer;
  envid?: string;
}): Buffer {
  return composeDsn({
    hostname: 'mx.remote.example',
    to: o.to,
    date: new Date('2026-11-21T12:00:00Z'),
    recipients: o.recipients,
    original: o.original,
    originalEnvelopeID: o.envid,
  });
}

export function failedRecipient(address: string, reply = '550 5.1.1 <' + address + '>: Recipient address rejected: User unknown'): DsnRecipient {
  const m = /^(\d{3})(?: (\d\.\d{1,3}\.\d{1,3}))?/.exec(reply);
  return { finalRecipient: address, action: 'failed', status: m?.[2] ?? '5.0.0', diagnosticCode: reply, remoteMTA: { name: 'mx.remote.example' } };
}

/** A qmail bounce (no rfc3464 report) returning the original below the separator. */
export function qmailBounce(o: { to: string; recipient: string; original: Buffer; reply?: string }): Buffer {
  return Buffer.from(
    [
      'From: MAILER-DAEMON@mx.remote.example',
      `To: ${o.to}`,
      'Subject: failure notice',
      'Date: Sat, 21 Nov 2026 12:00:00 +0000',
      'Message-ID: <qmail-bounce-1@mx.remote.example>',
      '',
      'Hi. This is the qmail-send program at mx.remote.example.',
      "I'm afraid I wasn't able to deliver your message to the following addresses.",
      "This is a permanent error; I've given up. Sorry it didn't work out.",
      '',
      `<${o.recipient}>:`,
      '192.0.2.5 does not like recipient.',
      `Remote host said: ${o.reply ?? '550 5.1.1 User unknown'}`,
      'Giving up on 192.0.2.5.',
      '',
      '--- Below this line is a copy of the message.',
      '',
      o.original.toString('utf8'),
    ].join('\r\n'),
  );
}

/** An rfc5965 ARF feedback report about `original`. */
export function arfComplaint(o: { to: string; recipient?: string; original: Buffer; feedbackType?: string }): Buffer {
  return Buffer.from(
    [
      'From: <fbl@isp.example>',
      `To: <${o.to}>`,
      'Subject: FW: hi',
      'Date: Sat, 21 Nov 2026 13:00:00 +0000',
      'Message-ID: <arf-1@isp.example>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=feedback-report; boundary="arfb"',
      '',
      '--arfb',
      'Content-Type: text/plain; charset=us-ascii',
      '',
      'This is an email abuse report for an email message received from IP 192.0.2.1.',
      '',
      '--arfb',
      'Content-Type: message/feedback-report',
      '',
      `Feedback-Type: ${o.feedbackType ?? 'abuse'}`,
      'User-Agent: isp-fbl/1.0',
      'Version: 1',
      ...(o.recipient ? [`Original-Rcpt-To: <${o.recipient}>`] : []),
      'Source-IP: 192.0.2.1',
      'Arrival-Date: Sat, 21 Nov 2026 10:00:05 +0000',
      'Reporting-MTA: dns; fbl.isp.example',
      '',
      '--arfb',
      'Content-Type: message/rfc822',
      '',
      o.original.toString('utf8'),
      '--arfb--',
      '',
    ].join('\r\n'),
  );
}

/** An ordinary reply from a person (not a report). */
export function personalReply(o: { to: string; inReplyTo: string }): Buffer {
  return Buffer.from(
    [
      'From: Alice <a@gmail.com>',
      `To: <${o.to}>`,
      'Subject: Re: hi',
      `In-Reply-To: ${o.inReplyTo}`,
      `References: ${o.inReplyTo}`,
      'Message-ID: <reply-1@gmail.com>',
      'Date: Sat, 21 Nov 2026 14:00:00 +0000',
      '',
      'Thanks, got it.',
      '',
    ].join('\r\n'),
  );
}
