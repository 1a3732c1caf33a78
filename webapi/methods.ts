/**
 * The 12 webapi v0 methods: request/response schemas, whether the response is bytes, a one-line
 * description and example request/response JSON (for the method pages and the OpenAPI document;
 * a unit test checks the examples against the schemas).
 */
import type * as z from 'zod';
import * as T from './types.js';

export const METHOD_NAMES = [
  'Send',
  'SuppressionList',
  'SuppressionAdd',
  'SuppressionRemove',
  'SuppressionPresent',
  'MessageGet',
  'MessageRawGet',
  'MessagePartGet',
  'MessageDelete',
  'MessageFlagsAdd',
  'MessageFlagsRemove',
  'MessageMove',
] as const;

export type MethodName = (typeof METHOD_NAMES)[number];

export interface MethodInfo {
  request: z.ZodType;
  /** Undefined: the method returns bytes (MessageRawGet, MessagePartGet). */
  response?: z.ZodType;
  description: string;
  exampleRequest: unknown;
  exampleResponse?: unknown;
  /** Method-specific error codes (besides protocol, user, server, error). */
  errors: string[];
}

const exampleStructure: T.StructureT = {
  ContentType: 'multipart/alternative',
  ContentTypeParams: { boundary: 'x' },
  ContentID: '',
  ContentDisposition: '',
  Filename: '',
  DecodedSize: 0,
  Parts: [
    { ContentType: 'text/plain', ContentTypeParams: { charset: 'utf-8' }, ContentID: '', ContentDisposition: '', Filename: '', DecodedSize: 14, Parts: [] },
    { ContentType: 'text/html', ContentTypeParams: { charset: 'utf-8' }, ContentID: '', ContentDisposition: '', Filename: '', DecodedSize: 31, Parts: [] },
  ],
};

export const METHODS: Record<MethodName, MethodInfo> = {
  Send: {
    request: T.SendRequest,
    response: T.SendResult,
    description: 'Compose a message and queue it for delivery to the To, CC and BCC recipients. Files can also be uploaded in a multipart/form-data request as alternativefile, inlinefile or attachedfile. An Idempotency-Key header makes retries safe.',
    exampleRequest: {
      From: [{ Name: 'Mox', Address: 'mox@localhost' }],
      To: [{ Name: 'Someone', Address: 'someone@localhost' }],
      Subject: 'hi',
      Text: 'hello, world\n',
      HTML: '<p>hello, <b>world</b></p>\n',
      Extra: { 'customer-id': '123' },
    },
    exampleResponse: { MessageID: '<pzHWkK1U8yYwGY-Rw6nHBQ@localhost>', Submissions: [{ Address: 'someone@localhost', QueueMsgID: 1, FromID: '' }] },
    errors: ['badAddress', 'missingBody', 'multipleFrom', 'badFrom', 'domainDisabled', 'noRecipients', 'messageLimitReached', 'recipientLimitReached', 'messageTooLarge', 'malformedMessageID', 'sentOverQuota'],
  },
  SuppressionList: {
    request: T.SuppressionListRequest,
    response: T.SuppressionListResult,
    description: 'List the suppressed addresses of the account: deliveries to them fail at once.',
    exampleRequest: {},
    exampleResponse: {
      Suppressions: [
        { ID: 1, Created: '2026-01-02T03:04:05Z', Account: 'mox', BaseAddress: 'someone@localhost', OriginalAddress: 'Some.One+news@localhost', Manual: true, Reason: 'unsubscribed' },
      ],
    },
    errors: [],
  },
  SuppressionAdd: {
    request: T.SuppressionAddRequest,
    response: T.EmptyResult,
    description: 'Add an address to the suppression list (by its base address). Already present: code error.',
    exampleRequest: { EmailAddress: 'someone@localhost', Manual: true, Reason: 'unsubscribed' },
    exampleResponse: {},
    errors: ['badAddress'],
  },
  SuppressionRemove: {
    request: T.SuppressionRemoveRequest,
    response: T.EmptyResult,
    description: 'Remove an address from the suppression list. Not present: code error.',
    exampleRequest: { EmailAddress: 'someone@localhost' },
    exampleResponse: {},
    errors: ['badAddress'],
  },
  SuppressionPresent: {
    request: T.SuppressionPresentRequest,
    response: T.SuppressionPresentResult,
    description: 'Whether an address is on the suppression list.',
    exampleRequest: { EmailAddress: 'someone@localhost' },
    exampleResponse: { Present: true },
    errors: ['badAddress'],
  },
  MessageGet: {
    request: T.MessageGetRequest,
    response: T.MessageGetResult,
    description: 'A received message: parsed header fields, text and HTML (up to 1 MiB each), MIME structure and delivery metadata.',
    exampleRequest: { MsgID: 1 },
    exampleResponse: {
      Message: {
        From: [{ Name: 'Someone', Address: 'someone@example.org' }],
        To: [{ Name: '', Address: 'mox@localhost' }],
        CC: [],
        BCC: [],
        ReplyTo: [],
        MessageID: '<abc@example.org>',
        References: [],
        Date: '2026-01-02T03:04:05Z',
        Subject: 'hi',
        Text: 'hello, world\n',
        HTML: '<p>hello, <b>world</b></p>\n',
      },
      Structure: exampleStructure,
      Meta: {
        Size: 1234,
        DSN: false,
        Flags: ['\\seen'],
        MailFrom: 'someone@example.org',
        MailFromValidated: true,
        RcptTo: 'mox@localhost',
        MsgFrom: 'someone@example.org',
        MsgFromValidated: true,
        DKIMVerifiedDomains: ['example.org'],
        RemoteIP: '192.0.2.1',
        MailboxName: 'Inbox',
      },
    },
    errors: ['messageNotFound'],
  },
  MessageRawGet: {
    request: T.MessageRawGetRequest,
    description: 'The message as stored (bytes, Content-Type text/plain).',
    exampleRequest: { MsgID: 1 },
    errors: ['messageNotFound'],
  },
  MessagePartGet: {
    request: T.MessagePartGetRequest,
    description: 'The transfer-decoded body of a MIME part (bytes). PartPath indexes multipart children from 0; an empty path is the message body.',
    exampleRequest: { MsgID: 1, PartPath: [0] },
    errors: ['messageNotFound', 'partNotFound'],
  },
  MessageDelete: {
    request: T.MessageDeleteRequest,
    response: T.EmptyResult,
    description: 'Remove a message permanently (not moved to Trash).',
    exampleRequest: { MsgID: 1 },
    exampleResponse: {},
    errors: ['messageNotFound'],
  },
  MessageFlagsAdd: {
    request: T.MessageFlagsAddRequest,
    response: T.EmptyResult,
    description: 'Set flags and keywords on a message.',
    exampleRequest: { MsgID: 1, Flags: ['\\seen', 'custom'] },
    exampleResponse: {},
    errors: ['messageNotFound'],
  },
  MessageFlagsRemove: {
    request: T.MessageFlagsRemoveRequest,
    response: T.EmptyResult,
    description: 'Clear flags and keywords of a message.',
    exampleRequest: { MsgID: 1, Flags: ['\\seen', 'custom'] },
    exampleResponse: {},
    errors: ['messageNotFound'],
  },
  MessageMove: {
    request: T.MessageMoveRequest,
    response: T.EmptyResult,
    description: 'Move a message to another (existing) mailbox.',
    exampleRequest: { MsgID: 1, DestMailboxName: 'Archive' },
    exampleResponse: {},
    errors: ['messageNotFound'],
  },
};

export function isMethod(name: string): name is MethodName {
  return (METHOD_NAMES as readonly string[]).includes(name);
}
