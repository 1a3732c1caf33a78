/**
 * Example payloads, sent by the "test" command (as mox's account-UI test buttons do) and shown in
 * the README, so an application can be developed against them.
 */
import { outgoingPayload } from '../queue/events.js';
import type { OutgoingPayload } from '../queue/events.js';
import type { IncomingPayload } from './incoming.js';

export function exampleOutgoing(now: Date): OutgoingPayload {
  return outgoingPayload(
    {
      account: 'example',
      event: 'delivered',
      queueMsgId: 101,
      fromId: 'MsgFromID',
      messageId: '<QnxzgulZK51utga6agH_rg@mox.example>',
      subject: 'Hello world',
      extra: { userid: '456' },
    },
    now,
  );
}

export function exampleIncoming(now: Date): IncomingPayload {
  return {
    Version: 0,
    From: [{ Name: 'mox', Address: 'mox@mox.example' }],
    To: [{ Name: '', Address: 'mjl@mox.example' }],
    CC: [],
    BCC: [],
    ReplyTo: [],
    Subject: 'hi',
    MessageID: '<QnxzgulZK51utga6agH_rg@mox.example>',
    InReplyTo: '',
    References: [],
    Date: now.toISOString(),
    Text: 'hi\n',
    HTML: '',
    Structure: { ContentType: 'text/plain', ContentTypeParams: { charset: 'utf-8' }, ContentID: '', ContentDisposition: '', Filename: '', DecodedSize: 4, Parts: [] },
    Meta: {
      MsgID: 201,
      MailFrom: 'mox@mox.example',
      MailFromValidated: false,
      MsgFromValidated: true,
      RcptTo: 'mjl@mox.example',
      DKIMVerifiedDomains: ['mox.example'],
      RemoteIP: '127.0.0.1',
      Received: now.toISOString(),
      MailboxName: 'Inbox',
      Automated: false,
    },
  };
}
