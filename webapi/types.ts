/**
 * Request and response schemas of the webapi v0 methods, with mox's field names
 * (../shared/reference/mox-behaviour.md §1). Requests are strict objects: an unknown field is an
 * error (code `protocol`), as mox's JSON decoder with DisallowUnknownFields. Every field may be
 * absent or null and then takes its zero value, as Go's decoder does (a Go client sends null for
 * empty lists and pointers). The schemas also generate the OpenAPI document (openapi.ts).
 */
import * as z from 'zod';
import type { PartStructure } from '../message/readable.js';

// ------------------------------------------------------------------ limits

/** Longest string field in a request other than Text, HTML and file Data (addresses, subjects, names…). */
export const MAX_SHORT_FIELD = 64 * 1024;
/** Most entries in a list field (recipients, headers, references, files, flags, part path). */
export const MAX_LIST = 10_000;

// ------------------------------------------------------------------ helpers

const str = (max = MAX_SHORT_FIELD) => z.string().max(max).nullish();
const bool = () => z.boolean().nullish();
const list = <T extends z.ZodType>(item: T, max = MAX_LIST) => z.array(item).max(max).nullish();
/** RFC 3339 time as Go's time.Time encodes it (fraction optional, Z or offset required). */
const time = () => z.iso.datetime({ offset: true });
/** A message id in the account (int64 in mox). */
const msgID = () => z.number().int().nullish().describe('ID of the message in the account, as in webhooks for incoming messages.');

// ------------------------------------------------------------------ shared types

export const NameAddress = z
  .strictObject({
    Name: str().describe('Optional display name.'),
    Address: str().describe('Email address.'),
  })
  .meta({ id: 'NameAddress' });

export const File = z
  .strictObject({
    Name: str().describe('Optional file name.'),
    ContentType: str().describe('E.g. application/pdf or image/png; detected from the data when empty.'),
    ContentID: str().describe('E.g. "<randomid>", to reference from HTML as "cid:randomid". Optional.'),
    Data: z.string().nullish().describe('Base64-encoded (standard alphabet) contents of the file. Required.'),
  })
  .meta({ id: 'File' });

/** Outgoing message fields; embedded at the top level of SendRequest as in mox. */
const messageFields = {
  From: list(NameAddress).describe('At most one; defaults to the account full name and the login address.'),
  To: list(NameAddress),
  CC: list(NameAddress),
  BCC: list(NameAddress).describe('Receive the message but are not in its headers.'),
  ReplyTo: list(NameAddress),
  MessageID: str().describe('Message-ID wrapped in <>; generated when empty.'),
  References: list(z.string().max(MAX_SHORT_FIELD)).describe('Message-IDs (with <>) this message refers to, oldest first; In-Reply-To is set to the last.'),
  Date: time().nullish().describe('Date header; the submission time when absent.'),
  Subject: str(),
  Text: z.string().nullish().describe('Plain-text body, lines separated by \\n.'),
  HTML: z.string().nullish().describe('HTML body; with Text, a multipart/alternative is made.'),
};

// ------------------------------------------------------------------ requests

export const SendRequest = z
  .strictObject({
    ...messageFields,
    Extra: z.record(z.string().max(MAX_SHORT_FIELD), z.string().max(MAX_SHORT_FIELD)).nullish().describe('Metadata carried through the queue into the webhooks of this message.'),
    Headers: list(z.tuple([z.string().max(MAX_SHORT_FIELD), z.string().max(MAX_SHORT_FIELD)])).describe('Additional headers as [name, value] pairs.'),
    AlternativeFiles: list(File).describe('Alternative representations of the text (e.g. text/calendar), in the multipart/alternative.'),
    InlineFiles: list(File).describe('Files shown as part of the message (multipart/related), e.g. images referenced by cid: from the HTML.'),
    AttachedFiles: list(File).describe('Attachments (multipart/mixed).'),
    RequireTLS: bool().describe('null: default TLS policy; true: REQUIRETLS along the whole path; false: TLS requirements relaxed.'),
    FutureRelease: time().nullish().describe('First delivery attempt not before this time; at most 60 days ahead.'),
    SaveSent: bool().describe('Also store the message in the Sent mailbox.'),
  })
  .meta({ id: 'SendRequest' });

export const SuppressionListRequest = z.strictObject({}).meta({ id: 'SuppressionListRequest' });
export const SuppressionAddRequest = z
  .strictObject({
    EmailAddress: str(),
    Manual: bool().describe('Whether added manually (true) or automatically.'),
    Reason: str().describe('Free-form text.'),
  })
  .meta({ id: 'SuppressionAddRequest' });
export const SuppressionRemoveRequest = z.strictObject({ EmailAddress: str() }).meta({ id: 'SuppressionRemoveRequest' });
export const SuppressionPresentRequest = z.strictObject({ EmailAddress: str() }).meta({ id: 'SuppressionPresentRequest' });
export const MessageGetRequest = z.strictObject({ MsgID: msgID() }).meta({ id: 'MessageGetRequest' });
export const MessageRawGetRequest = z.strictObject({ MsgID: msgID() }).meta({ id: 'MessageRawGetRequest' });
export const MessagePartGetRequest = z
  .strictObject({
    MsgID: msgID(),
    PartPath: list(z.number().int(), 1000).describe('Indexes into the MIME parts, from 0: [0, 2] is the 3rd part of the 1st part. Empty: the message body.'),
  })
  .meta({ id: 'MessagePartGetRequest' });
export const MessageDeleteRequest = z.strictObject({ MsgID: msgID() }).meta({ id: 'MessageDeleteRequest' });
const flags = () => list(z.string().max(1000), 1000).describe('System flags (\\seen, \\answered, \\flagged, \\deleted, \\draft), well-known keywords ($junk, $notjunk, $forwarded, $phishing, $mdnsent) or custom keywords.');
export const MessageFlagsAddRequest = z.strictObject({ MsgID: msgID(), Flags: flags() }).meta({ id: 'MessageFlagsAddRequest' });
export const MessageFlagsRemoveRequest = z.strictObject({ MsgID: msgID(), Flags: flags() }).meta({ id: 'MessageFlagsRemoveRequest' });
export const MessageMoveRequest = z
  .strictObject({ MsgID: msgID(), DestMailboxName: str().describe('E.g. "Inbox"; must exist.') })
  .meta({ id: 'MessageMoveRequest' });

// ------------------------------------------------------------------ responses

export const ErrorResult = z
  .object({
    Code: z.string().describe('protocol, user, server, error, badAddress, or a method-specific code.'),
    Message: z.string(),
  })
  .meta({ id: 'Error' });

export const Submission = z
  .object({
    Address: z.string().describe('Recipient as given in To/CC/BCC.'),
    QueueMsgID: z.number().int().describe('Queue message id; webhooks about this delivery refer to it.'),
    FromID: z.string().describe('Unique MAIL FROM id when fromid is in use; empty otherwise.'),
  })
  .meta({ id: 'Submission' });

export const SendResult = z
  .object({
    MessageID: z.string().describe('Message-ID with <>.'),
    Submissions: z.array(Submission).describe('One per recipient, in To, CC, BCC order.'),
  })
  .meta({ id: 'SendResult' });

export const Suppression = z
  .object({
    ID: z.number().int(),
    Created: z.string().describe('RFC 3339 time.'),
    Account: z.string(),
    BaseAddress: z.string().describe('Simplified address: lower case, dots and +/- suffix removed from the localpart.'),
    OriginalAddress: z.string(),
    Manual: z.boolean(),
    Reason: z.string(),
  })
  .meta({ id: 'Suppression' });

export const SuppressionListResult = z.object({ Suppressions: z.array(Suppression) }).meta({ id: 'SuppressionListResult' });
export const EmptyResult = z.object({}).meta({ id: 'EmptyResult' });
export const SuppressionPresentResult = z.object({ Present: z.boolean() }).meta({ id: 'SuppressionPresentResult' });

export const ResultNameAddress = z.object({ Name: z.string(), Address: z.string() }).meta({ id: 'ResultNameAddress' });

export const Message = z
  .object({
    From: z.array(ResultNameAddress),
    To: z.array(ResultNameAddress),
    CC: z.array(ResultNameAddress),
    BCC: z.array(ResultNameAddress),
    ReplyTo: z.array(ResultNameAddress),
    MessageID: z.string(),
    References: z.array(z.string()).describe('From the References header, with In-Reply-To first when not already listed.'),
    Date: z.string().nullable().describe('RFC 3339, null when the message has no (valid) Date.'),
    Subject: z.string(),
    Text: z.string().describe('First text/plain part, at most 1 MiB, \\n line endings.'),
    HTML: z.string().describe('First text/html part, at most 1 MiB, \\n line endings.'),
  })
  .meta({ id: 'Message' });

/** mox's Structure (message/readable.ts builds it). */
export type StructureT = PartStructure;

export const Structure: z.ZodType<StructureT> = z
  .object({
    ContentType: z.string().describe('Lower case, e.g. text/plain.'),
    ContentTypeParams: z.record(z.string(), z.string()).describe('Lower-case keys.'),
    ContentID: z.string(),
    ContentDisposition: z.string().describe('Lower case, without parameters; empty when absent.'),
    Filename: z.string(),
    DecodedSize: z.number().int().describe('Size after transfer decoding.'),
    get Parts() {
      return z.array(Structure);
    },
  })
  .meta({ id: 'Structure' });

export const MessageMeta = z
  .object({
    Size: z.number().int().describe('Size of the stored message.'),
    DSN: z.boolean().describe('Whether the message is a delivery status notification.'),
    Flags: z.array(z.string()).describe('System flags (lower case, e.g. \\seen) then keywords.'),
    MailFrom: z.string().describe('SMTP MAIL FROM address.'),
    MailFromValidated: z.boolean().describe('Whether MAIL FROM was SPF-validated.'),
    RcptTo: z.string().describe('SMTP RCPT TO address this copy was delivered for.'),
    MsgFrom: z.string().describe('Address in the From header.'),
    MsgFromValidated: z.boolean().describe('Whether the From address was DMARC-validated.'),
    DKIMVerifiedDomains: z.array(z.string()),
    RemoteIP: z.string(),
    MailboxName: z.string(),
  })
  .meta({ id: 'MessageMeta' });

export const MessageGetResult = z.object({ Message, Structure, Meta: MessageMeta }).meta({ id: 'MessageGetResult' });

export type NameAddressT = z.output<typeof NameAddress>;
export type FileT = z.output<typeof File>;
export type SendRequestT = z.output<typeof SendRequest>;
export type SendResultT = z.output<typeof SendResult>;
export type SuppressionT = z.output<typeof Suppression>;
export type MessageT = z.output<typeof Message>;
export type MessageMetaT = z.output<typeof MessageMeta>;
export type MessageGetResultT = z.output<typeof MessageGetResult>;
export type ErrorT = z.output<typeof ErrorResult>;

/** Schemas used inside others; each becomes its own OpenAPI component. */
export const NESTED_SCHEMAS: z.ZodType[] = [NameAddress, File, Submission, Suppression, ResultNameAddress, Message, Structure, MessageMeta];
