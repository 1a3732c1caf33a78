/**
 * Incoming SMTP (port 25) against a real server on 127.0.0.1:0: replies and enhanced codes,
 * recipient routing (catchall separators, @domain catchall, aliases, postmaster), relay denial,
 * limits, pipelining, SMTPUTF8, STARTTLS, and SMTP smuggling variants.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { RawSmtp, sendRaw } from './helpers/smtp-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let ts: TestServer;

const MSG = 'From: <sender@remote.example>\r\nTo: <mjl@example.com>\r\nSubject: hello\r\nMessage-ID: <m1@remote.example>\r\n\r\nHi there.\r\n';

before(async () => {
  ts = await startTestServer({
    domains: {
      'example.com': {
        LocalpartCatchallSeparators: ['+', '-'],
        Aliases: {
          team: { Addresses: ['mjl@example.com', 'other@example.com'], PostPublic: true },
          private: { Addresses: ['mjl@example.com'], PostPublic: false },
        },
      },
      'catchall.example': {},
      'disabled.example': { Disabled: true },
      'bücher.example': {},
    },
    accounts: {
      mjl: { Domain: 'example.com', Destinations: { 'mjl@example.com': {}, 'jöran@bücher.example': {} } },
      other: { Domain: 'example.com', Destinations: { 'other@example.com': { Mailbox: 'Lists' }, '@catchall.example': {} } },
      disabledacct: { Domain: 'example.com', Destinations: { 'x@disabled.example': {} } },
      small: { Domain: 'example.com', Destinations: { 'small@example.com': {} }, QuotaMessageSize: 2000 },
    },
    listener: { SMTPMaxMessageSize: 20_000 },
  });
});

after(async () => {
  await ts.stop();
});

async function client(): Promise<RawSmtp> {
  const c = await RawSmtp.connect(ts.smtpPort);
  const g = await c.reply();
  assert.equal(g.code, 220);
  assert.match(g.text, /^220 mail\.example\.com ESMTP moxts$/);
  return c;
}

async function ehlo(c: RawSmtp) {
  const r = await c.cmd('EHLO client.remote.example');
  assert.equal(r.code, 250);
  return r;
}

function inbox(account: string, mailbox = 'Inbox') {
  const a = ts.server.store.account(account);
  const mb = a.mailbox(mailbox);
  assert.ok(mb, `mailbox ${mailbox} of ${account}`);
  return { a, mb, msgs: a.listMessages(mb.id) };
}

test('EHLO advertises the extensions', async () => {
  const c = await client();
  const r = await ehlo(c);
  const kws = r.lines.slice(1).map((l) => l.slice(4));
  for (const k of ['PIPELINING', 'SIZE 20000', 'STARTTLS', 'ENHANCEDSTATUSCODES', '8BITMIME', 'SMTPUTF8', 'DSN']) assert.ok(kws.includes(k), `${k} in ${kws}`);
  c.close();
});

test('a message is stored durably with trace and authentication headers, 250 names the id', async () => {
  const c = await client();
  await ehlo(c);
  const before = inbox('mjl').msgs.length;
  const r = await sendRaw(c, 'sender@remote.example', ['mjl@example.com'], MSG);
  assert.equal(r.code, 250, r.text);
  assert.equal(r.enhanced, '2.0.0');
  const id = /id (\S+)$/.exec(r.text)?.[1];
  assert.ok(id);
  const { a, msgs } = inbox('mjl');
  assert.equal(msgs.length, before + 1);
  const m = msgs[msgs.length - 1]!;
  const raw = (await a.readMessage(m.id)).toString();
  assert.match(raw, /^Return-Path: <sender@remote\.example>\r\n/);
  assert.match(raw, /\r\nAuthentication-Results: mail\.example\.com;/);
  assert.match(raw, new RegExp(`\\r\\nReceived: from client\\.remote\\.example \\(localhost \\[127\\.0\\.0\\.1\\]\\)\\r\\n\\tby mail\\.example\\.com with ESMTP id ${id}\\r\\n\\tfor <mjl@example\\.com>;`));
  assert.ok(raw.endsWith(MSG), 'original message bytes intact after the added headers');
  assert.equal(m.subject, 'hello');
  assert.equal(m.mailFrom, 'sender@remote.example');
  const full = a.getMessage(m.id)!;
  assert.ok(full.parsed, 'parsed structure stored');
  assert.equal((full.meta as { receivedId: string }).receivedId, id);
  assert.equal(await c.cmd('QUIT').then((q) => q.code), 221);
});

test('recipient routing: catchall separators, @domain catchall, alias, postmaster, mailbox', async () => {
  const c = await client();
  await ehlo(c);
  const n = (acct: string, mb = 'Inbox') => {
    const a = ts.server.store.account(acct);
    const box = a.mailbox(mb);
    return box ? a.listMessages(box.id).length : 0;
  };
  const [m0, o0, l0] = [n('mjl'), n('other'), n('other', 'Lists')];
  assert.equal((await sendRaw(c, 's@remote.example', ['MJL+news@example.com'], MSG)).code, 250);
  assert.equal((await sendRaw(c, 's@remote.example', ['mjl-list@example.com'], MSG)).code, 250);
  assert.equal((await sendRaw(c, 's@remote.example', ['anything@catchall.example'], MSG)).code, 250);
  assert.equal((await sendRaw(c, 's@remote.example', ['team@example.com'], MSG)).code, 250);
  assert.equal((await sendRaw(c, 's@remote.example', ['postmaster@example.com'], MSG)).code, 250);
  const pm = await c.cmd('MAIL FROM:<s@remote.example>');
  assert.equal(pm.code, 250);
  assert.equal((await c.cmd('RCPT TO:<postmaster>')).code, 250, 'domain-less postmaster (rfc5321 4.1.1.3)');
  assert.equal((await c.cmd('RSET')).code, 250);
  assert.equal(n('mjl'), m0 + 4, 'two tagged addresses, alias member, postmaster');
  assert.equal(n('other'), o0 + 1, 'catchall into Inbox');
  assert.equal(n('other', 'Lists'), l0 + 1, 'alias member copy into the destination mailbox');
  c.close();
});

test('refusals carry the right codes: unknown user, relay, disabled domain, alias members only', async () => {
  const c = await client();
  await ehlo(c);
  assert.equal((await c.cmd('MAIL FROM:<s@remote.example>')).code, 250);
  let r = await c.cmd('RCPT TO:<nobody@example.com>');
  assert.deepEqual([r.code, r.enhanced], [550, '5.1.1']);
  r = await c.cmd('RCPT TO:<victim@elsewhere.example>');
  assert.deepEqual([r.code, r.enhanced], [550, '5.7.1'], 'not an open relay');
  r = await c.cmd('RCPT TO:<x@disabled.example>');
  assert.deepEqual([r.code, r.enhanced], [450, '4.2.1']);
  r = await c.cmd('RCPT TO:<private@example.com>');
  assert.deepEqual([r.code, r.enhanced], [550, '5.7.1'], 'non-member to members-only alias');
  r = await c.cmd('DATA');
  assert.deepEqual([r.code, r.enhanced], [554, '5.5.1'], 'DATA without valid recipients');
  c.close();
});

test('protocol errors: sequence, syntax, unknown command, parameters', async () => {
  const c = await client();
  let r = await c.cmd('MAIL FROM:<a@b.example>');
  assert.deepEqual([r.code, r.enhanced], [503, '5.5.1'], 'MAIL before EHLO');
  await ehlo(c);
  r = await c.cmd('RCPT TO:<mjl@example.com>');
  assert.deepEqual([r.code, r.enhanced], [503, '5.5.1'], 'RCPT before MAIL');
  r = await c.cmd('MAIL FROM:bad');
  assert.deepEqual([r.code, r.enhanced], [501, '5.5.4']);
  r = await c.cmd('MAIL FROM:<a@b.example> FROBNICATE=1');
  assert.deepEqual([r.code, r.enhanced], [555, '5.5.4']);
  r = await c.cmd('XYZZY');
  assert.deepEqual([r.code, r.enhanced], [500, '5.5.1']);
  r = await c.cmd('MAIL FROM:<a@b.example>');
  assert.equal(r.code, 250);
  r = await c.cmd('MAIL FROM:<a@b.example>');
  assert.deepEqual([r.code, r.enhanced], [503, '5.5.1'], 'nested MAIL');
  r = await c.cmd('VRFY mjl');
  assert.equal(r.code, 252);
  r = await c.cmd('NOOP');
  assert.equal(r.code, 250);
  r = await c.cmd('AUTH PLAIN AGIAbg==');
  assert.deepEqual([r.code, r.enhanced], [503, '5.5.1'], 'no AUTH on port 25');
  c.close();
});

test('size limits: declared SIZE and actual size give 552 5.3.4', async () => {
  const c = await client();
  await ehlo(c);
  let r = await c.cmd('MAIL FROM:<s@remote.example> SIZE=30000');
  assert.deepEqual([r.code, r.enhanced], [552, '5.3.4']);
  r = await sendRaw(c, 's@remote.example', ['mjl@example.com'], MSG + 'x'.repeat(78).concat('\r\n').repeat(300));
  assert.deepEqual([r.code, r.enhanced], [552, '5.3.4']);
  // The connection is still usable after a refused message.
  r = await sendRaw(c, 's@remote.example', ['mjl@example.com'], MSG);
  assert.equal(r.code, 250);
  c.close();
});

test('mailbox full gives 552 5.2.2', async () => {
  const c = await client();
  await ehlo(c);
  const r = await sendRaw(c, 's@remote.example', ['small@example.com'], MSG + 'y'.repeat(70).concat('\r\n').repeat(40));
  assert.deepEqual([r.code, r.enhanced], [552, '5.2.2']);
  c.close();
});

test('too many recipients: 452 after 1000', async () => {
  const c = await client();
  await ehlo(c);
  assert.equal((await c.cmd('MAIL FROM:<s@remote.example>')).code, 250);
  // Pipeline 1001 RCPTs in one write.
  c.write(Array.from({ length: 1001 }, (_, i) => `RCPT TO:<mjl+${i}@example.com>\r\n`).join(''));
  const replies = [];
  for (let i = 0; i < 1001; i++) replies.push(await c.reply());
  assert.ok(replies.slice(0, 1000).every((r) => r.code === 250));
  assert.deepEqual([replies[1000]!.code, replies[1000]!.enhanced], [452, '4.5.3']);
  c.close();
});

test('pipelining: a whole transaction in one write gets all replies in order', async () => {
  const c = await client();
  await ehlo(c);
  c.write(`MAIL FROM:<s@remote.example>\r\nRCPT TO:<mjl@example.com>\r\nRCPT TO:<nobody@example.com>\r\nRCPT TO:<other@example.com>\r\nDATA\r\n`);
  const codes = [];
  for (let i = 0; i < 5; i++) codes.push((await c.reply()).code);
  assert.deepEqual(codes, [250, 250, 550, 250, 354]);
  c.write(`${MSG}.\r\nNOOP\r\nQUIT\r\n`);
  assert.equal((await c.reply()).code, 250);
  assert.equal((await c.reply()).code, 250);
  assert.equal((await c.reply()).code, 221);
  c.close();
});

test('SMTPUTF8: internationalised addresses need the parameter', async () => {
  const c = await client();
  await ehlo(c);
  let r = await c.cmd('MAIL FROM:<jöran@bücher.example>');
  assert.deepEqual([r.code, r.enhanced], [553, '5.6.7']);
  const before = inbox('mjl').msgs.length;
  r = await c.cmd('MAIL FROM:<δοκιμή@παράδειγμα.example> SMTPUTF8');
  assert.equal(r.code, 250);
  r = await c.cmd('RCPT TO:<jöran@bücher.example>');
  assert.equal(r.code, 250);
  assert.equal((await c.cmd('DATA')).code, 354);
  c.write('From: <δοκιμή@παράδειγμα.example>\r\nSubject: Grüße\r\n\r\nhallo\r\n.\r\n');
  r = await c.reply();
  assert.equal(r.code, 250, r.text);
  const { a, msgs } = inbox('mjl');
  assert.equal(msgs.length, before + 1);
  const raw = (await a.readMessage(msgs[msgs.length - 1]!.id)).toString();
  assert.match(raw, /with UTF8SMTP id/);
  assert.match(raw, /for <jöran@xn--bcher-kva\.example>/);
  c.close();
});

test('STARTTLS: pipelined plaintext is discarded, EHLO is required again, Received shows TLS', async () => {
  const c = await client();
  await ehlo(c);
  const r = await c.starttls([ts.certPem]);
  assert.equal(r.code, 220);
  let m = await c.cmd('MAIL FROM:<s@remote.example>');
  assert.deepEqual([m.code, m.enhanced], [503, '5.5.1'], 'EHLO again after TLS');
  const e = await c.cmd('EHLO client.remote.example');
  assert.ok(!e.lines.some((l) => l.includes('STARTTLS')), 'no STARTTLS once on TLS');
  const before = inbox('mjl').msgs.length;
  assert.equal((await sendRaw(c, 's@remote.example', ['mjl@example.com'], MSG)).code, 250);
  const { a, msgs } = inbox('mjl');
  assert.equal(msgs.length, before + 1);
  assert.match((await a.readMessage(msgs[msgs.length - 1]!.id)).toString(), /with ESMTPS id \S+\r\n\tfor <mjl@example\.com>\r\n\ttls TLS_\S+ \(TLSv1\.[23]\);/);
  c.close();

  // A command pipelined after STARTTLS in plaintext is not executed after the handshake.
  const c2 = await client();
  await ehlo(c2);
  c2.write('STARTTLS\r\nMAIL FROM:<injected@evil.example>\r\n');
  assert.equal((await c2.reply()).code, 220);
  c2.close();
});

test('line too long: 500 and the connection closes', async () => {
  const c = await client();
  c.write(`EHLO ${'a'.repeat(3000)}\r\n`);
  const r = await c.reply();
  assert.deepEqual([r.code, r.enhanced], [500, '5.5.2']);
  await c.closedByServer();
});

test('SMTP smuggling variants are refused and smuggled commands never run', async () => {
  const variants = ['\n.\n', '\n.\r\n', '\r.\r', '\r\n.\r', '\r\n.\n', '\r.\r\n', '\n.\r'];
  for (const v of variants) {
    const c = await client();
    await ehlo(c);
    const before = inbox('mjl').msgs.length;
    assert.equal((await c.cmd('MAIL FROM:<s@remote.example>')).code, 250);
    assert.equal((await c.cmd('RCPT TO:<mjl@example.com>')).code, 250);
    assert.equal((await c.cmd('DATA')).code, 354);
    // After the fake end-of-data, a smuggled second transaction to another user.
    c.write(`Subject: a\r\n\r\nbody${v}MAIL FROM:<ceo@example.com>\r\nRCPT TO:<other@example.com>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n`);
    const r = await c.reply();
    assert.deepEqual([r.code, r.enhanced], [554, '5.6.0'], `variant ${JSON.stringify(v)}: ${r.text}`);
    // The next reply is for our own command: nothing smuggled was executed.
    const n = await c.cmd('NOOP');
    assert.equal(n.code, 250, `variant ${JSON.stringify(v)}`);
    assert.equal(inbox('mjl').msgs.length, before);
    c.close();
  }
  assert.ok(!inbox('other').msgs.some((m) => m.subject === 'smuggled'));
});
