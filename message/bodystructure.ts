// IMAP BODY and BODYSTRUCTURE (rfc9051:7.5.2 and rfc3501:7.4.2 "body" grammar: body-type-1part,
// body-type-mpart, body-ext-1part, body-ext-mpart) and ENVELOPE values from a parsed Part.

import type { Address } from './address.js';
import type { Envelope } from './envelope.js';
import { concat, type FormatOptions, formatImapValue, type ImapValue } from './imapvalue.js';
import type { Part } from './part.js';

export { atom, literal, concat, formatImapValue, formatImapValueBytes, type ImapValue, type ImapAtom, type ImapLiteral, type ImapConcat, type FormatOptions } from './imapvalue.js';

function addressList(l: Address[] | null): ImapValue {
  if (!l || l.length === 0) return null;
  // rfc9051:9 address = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")"
  return [concat(l.map((a) => [a.name, a.adl, a.mailbox, a.host]))];
}

/** ENVELOPE as an IMAP value (rfc9051:7.5.2 ENVELOPE). A missing envelope gives all NIL. */
export function envelopeValue(e: Envelope | undefined): ImapValue {
  if (!e) return [null, null, null, null, null, null, null, null, null, null];
  return [
    e.date,
    e.subject,
    addressList(e.from),
    addressList(e.sender),
    addressList(e.replyTo),
    addressList(e.to),
    addressList(e.cc),
    addressList(e.bcc),
    e.inReplyTo,
    e.messageId,
  ];
}

/** body-fld-param: ("KEY" "value" ...) or NIL. Keys upper-case (as in rfc9051's examples). */
function params(p: Record<string, string>): ImapValue {
  const out: string[] = [];
  for (const [k, v] of Object.entries(p)) out.push(k.toUpperCase(), v);
  return out.length ? out : null;
}

/** body-fld-dsp, body-fld-lang, body-fld-loc. */
function extTail(p: Part): ImapValue[] {
  const dsp: ImapValue = p.contentDisposition ? [p.contentDisposition, params(p.contentDispositionParams)] : null;
  let lang: ImapValue = null;
  if (p.contentLanguage && p.contentLanguage.length === 1) lang = p.contentLanguage[0]!;
  else if (p.contentLanguage && p.contentLanguage.length > 1) lang = p.contentLanguage;
  return [dsp, lang, p.contentLocation];
}

/**
 * BODYSTRUCTURE (extensible = true) or BODY (false) of a part, as an IMAP value.
 * Call with the root Part for the message's structure.
 */
export function bodyStructure(p: Part, extensible = true): ImapValue {
  if (p.mediaType === 'MULTIPART' && p.parts.length > 0) {
    // body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]; the bodies have no separator.
    const l: ImapValue[] = [concat(p.parts.map((c) => bodyStructure(c, extensible)))];
    l.push(p.mediaSubType);
    if (extensible) l.push(params(p.contentTypeParams), ...extTail(p));
    return l;
  }
  // body-fields = body-fld-param SP body-fld-id SP body-fld-desc SP body-fld-enc SP body-fld-octets
  const l: ImapValue[] = [
    p.mediaType,
    p.mediaSubType,
    params(p.contentTypeParams),
    p.contentId,
    p.contentDescription,
    p.contentTransferEncoding || '7BIT',
    p.endOffset - p.bodyOffset,
  ];
  if (p.mediaType === 'MESSAGE' && p.message) {
    // body-type-msg: ... SP envelope SP body SP body-fld-lines
    l.push(envelopeValue(p.message.envelope), bodyStructure(p.message, extensible), p.rawLineCount);
  } else if (p.mediaType === 'TEXT') {
    l.push(p.rawLineCount); // body-type-text: ... SP body-fld-lines
  }
  if (extensible) l.push(p.contentMD5, ...extTail(p)); // body-ext-1part
  return l;
}

/** Serialized BODYSTRUCTURE (or BODY) of a message. */
export function formatBodyStructure(root: Part, extensible = true, opts: FormatOptions = {}): string {
  return formatImapValue(bodyStructure(root, extensible), opts);
}

/** Serialized ENVELOPE of a message (root) or embedded message. */
export function formatEnvelope(p: Part, opts: FormatOptions = {}): string {
  return formatImapValue(envelopeValue(p.envelope), opts);
}
