// IMAP ENVELOPE (rfc9051:7.5.2, rfc3501:7.4.2) from a parsed header. Strings are kept raw (still
// rfc2047-encoded, unfolded) as IMAP requires; groups use IMAP's group markers.

import { type Address, flattenForImap, parseAddressList } from './address.js';
import type { Header } from './header.js';

export interface Envelope {
  date: string | null;
  subject: string | null;
  from: Address[] | null;
  /** Defaults to `from` when absent or empty (rfc9051:7.5.2). */
  sender: Address[] | null;
  /** Defaults to `from` when absent or empty (rfc9051:7.5.2). */
  replyTo: Address[] | null;
  to: Address[] | null;
  cc: Address[] | null;
  bcc: Address[] | null;
  inReplyTo: string | null;
  messageId: string | null;
}

function addresses(h: Header, name: string): Address[] | null {
  const v = h.get(name);
  if (v === undefined) return null;
  const l = flattenForImap(parseAddressList(v));
  return l.length ? l : null;
}

/** Builds the ENVELOPE of a message from its header. Never throws. */
export function envelopeFromHeader(h: Header): Envelope {
  const from = addresses(h, 'from');
  return {
    date: h.get('date') ?? null,
    subject: h.get('subject') ?? null,
    from,
    sender: addresses(h, 'sender') ?? from,
    replyTo: addresses(h, 'reply-to') ?? from,
    to: addresses(h, 'to'),
    cc: addresses(h, 'cc'),
    bcc: addresses(h, 'bcc'),
    inReplyTo: h.get('in-reply-to') ?? null,
    messageId: h.get('message-id') ?? null,
  };
}
