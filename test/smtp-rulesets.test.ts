/**
 * Destination rulesets on incoming SMTP: filing by List-Id header, by From address with an
 * SPF-verified domain, and the default mailbox when nothing matches.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { RawSmtp, sendRaw } from './helpers/smtp-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let ts: TestServer;
before(async () => {
  ts = await startTestServer({
    zone: { 'good.example': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] }, 'spoof.example': { TXT: ['v=spf1 -all'] } },
    accounts: {
      mjl: {
        Domain: 'example.com',
        Destinations: {
          'mjl@example.com': {
            Rulesets: [
              { HeadersRegexp: { '^list-id$': 'announce\\.lists\\.example\\.org' }, Mailbox: 'Lists/Announce' },
              { MsgFromRegexp: '^alice@', VerifiedDomain: 'good.example', Mailbox: 'Alice' },
            ],
          },
        },
      },
    },
  });
});
after(async () => {
  await ts.stop();
});

async function deliverAndFind(mailFrom: string, message: string): Promise<string> {
  const c = await RawSmtp.connect(ts.smtpPort);
  await c.reply();
  await c.cmd('EHLO client.example');
  const r = await sendRaw(c, mailFrom, ['mjl@example.com'], message);
  c.close();
  assert.equal(r.code, 250, r.text);
  const a = ts.server.store.account('mjl');
  const id = /id (\S+)$/.exec(r.text)![1];
  for (const mb of a.listMailboxes()) {
    for (const m of a.listMessages(mb.id, { full: true })) if ((m.meta as { receivedId?: string })?.receivedId === id) return mb.name;
  }
  throw new Error('delivered message not found');
}

test('rulesets file messages by header and by verified sender; otherwise the destination mailbox', async () => {
  assert.equal(await deliverAndFind('x@other.example', 'From: <news@lists.example.org>\r\nList-Id: Announcements <announce.lists.example.org>\r\nSubject: a\r\n\r\nx\r\n'), 'Lists/Announce');
  assert.equal(await deliverAndFind('alice@good.example', 'From: <Alice@good.example>\r\nSubject: b\r\n\r\nx\r\n'), 'Alice');
  // Same From, but SPF fails for the claimed domain: not verified, so the default mailbox.
  assert.equal(await deliverAndFind('alice@spoof.example', 'From: <alice@good.example>\r\nSubject: c\r\n\r\nx\r\n'), 'Inbox');
  assert.equal(await deliverAndFind('someone@other.example', 'From: <someone@other.example>\r\nSubject: d\r\n\r\nx\r\n'), 'Inbox');
});
