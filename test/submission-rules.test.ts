/**
 * Submission rules against a real server, through real clients (nodemailer, swaks, RawSmtp):
 * MAIL FROM / From ownership (aliases with AllowMsgFrom), X-Mox-Extra headers (removed, duplicate
 * refused), Message-ID and Date added, DKIM signatures that verify with the keys published in the
 * test DNS server, send limits (451 4.7.1), FUTURERELEASE with its 60-day bound, hold rules for new
 * messages, fromid, DSN parameters stored, local recipients queued.
 *
 * An all-empty hold rule keeps the queue paused during these tests, so that whatever delivery does
 * with queued messages, the rows stay where the assertions look for them. One end-to-end test
 * releases its message: submission → queue → delivery to a remote MX (an SMTP sink on 127.0.0.1,
 * MX published by the test DNS server) that receives it byte for byte with verifying DKIM
 * signatures.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTransport } from 'nodemailer';
import { RawSmtp, sendRaw } from './helpers/smtp-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { generateDkimKey, dkimTxtRecord } from '../auth/dkim-keys.js';
import { verifyMessage } from '../auth/verify.js';
import { startSink, type Sink } from '../smtp/client/testsink.js';

let ts: TestServer;
let keyDir: string;
const PASSWORD = 'test1234';
const edKey = generateDkimKey('ed25519');
const rsaKey = generateDkimKey('rsa');

/** The remote MX of dkim-sink.example (published by the test DNS server) for the end-to-end test. */
let sink: Sink;

before(async () => {
  sink = await startSink();
  keyDir = mkdtempSync(join(tmpdir(), 'moxts-dkimkeys-'));
  writeFileSync(join(keyDir, 'ed.pem'), edKey);
  writeFileSync(join(keyDir, 'rsa.pem'), rsaKey);
  ts = await startTestServer({
    listener: { Submission: { Enabled: true, Port: 0 } },
    domains: {
      'example.com': {
        LocalpartCatchallSeparator: '+',
        DKIM: {
          Selectors: { sel1: { PrivateKeyFile: join(keyDir, 'ed.pem') }, sel2: { PrivateKeyFile: join(keyDir, 'rsa.pem'), Expiration: '72h' } },
          Sign: ['sel1', 'sel2'],
        },
        Aliases: { team: { Addresses: ['mjl@example.com', 'bob@example.com'], AllowMsgFrom: true }, news: { Addresses: ['mjl@example.com'] } },
      },
    },
    accounts: {
      mjl: { Domain: 'example.com', Destinations: { 'mjl@example.com': {}, 'fid@example.com': {} }, FromIDLoginAddresses: ['fid@example.com'] },
      bob: { Domain: 'example.com', Destinations: { 'bob@example.com': {} } },
      limited: { Domain: 'example.com', Destinations: { 'limited@example.com': {} }, MaxOutgoingMessagesPerDay: 4, MaxFirstTimeRecipientsPerDay: 3 },
    },
    passwords: { mjl: PASSWORD, bob: PASSWORD, limited: PASSWORD },
    delivery: { portFor: () => sink.port, connectTimeoutMs: 2000, commandTimeoutMs: 3000, dataTimeoutMs: 3000 },
    zone: {
      'dkim-sink.example': { MX: [{ exchange: 'mx.dkim-sink.example', priority: 10 }] },
      'mx.dkim-sink.example': { A: ['127.0.0.1'] },
      'sel1._domainkey.example.com': { TXT: [dkimTxtRecord(edKey)] },
      'sel2._domainkey.example.com': { TXT: [dkimTxtRecord(rsaKey)] },
    },
  });
  ts.server.queue.addHoldRule({ account: '', senderDomain: '', recipientDomain: '' });
});
after(async () => {
  await ts.stop();
  await sink.close();
  rmSync(keyDir, { recursive: true, force: true });
});

function transport(user = 'mjl@example.com') {
  return createTransport({
    host: '127.0.0.1',
    port: ts.submissionPort,
    requireTLS: true,
    tls: { ca: [ts.certPem], servername: 'localhost' },
    auth: { user, pass: PASSWORD },
  });
}

/** Send with nodemailer; resolves with the queue ids from the 250, rejects with the SMTP error. */
async function send(from: string, to: string[], raw: string, user = 'mjl@example.com'): Promise<number[]> {
  const t = transport(user);
  try {
    const info = await t.sendMail({ envelope: { from, to }, raw });
    const m = /message queued, id (\d+)(?:-(\d+))?/.exec(info.response);
    assert.ok(m, info.response);
    const first = Number(m[1]);
    const last = m[2] ? Number(m[2]) : first;
    return Array.from({ length: last - first + 1 }, (_, i) => first + i);
  } finally {
    t.close();
  }
}

function smtpError(code: number, enhanced: string) {
  return (e: { responseCode?: number; response?: string }) => {
    assert.equal(e.responseCode, code, e.response);
    assert.ok(e.response?.includes(` ${enhanced} `), e.response);
    return true;
  };
}

const msg = (from: string, extra = '') => `From: <${from}>\r\nTo: <x@remote.example>\r\nSubject: test\r\n${extra}\r\nhello\r\n`;

async function authed(user = 'mjl@example.com'): Promise<RawSmtp> {
  const c = await RawSmtp.connect(ts.submissionPort);
  await c.reply();
  await c.cmd('EHLO client.example');
  await c.starttls([ts.certPem]);
  await c.cmd('EHLO client.example');
  const r = await c.cmd(`AUTH PLAIN ${Buffer.from(`\0${user}\0${PASSWORD}`).toString('base64')}`);
  assert.equal(r.code, 235);
  return c;
}

test('MAIL FROM and From must belong to the account (catchall variants and AllowMsgFrom aliases do)', async () => {
  await assert.rejects(send('bob@example.com', ['x@remote.example'], msg('mjl@example.com')), smtpError(550, '5.7.1'));
  await assert.rejects(send('mjl@example.com', ['x@remote.example'], msg('bob@example.com')), smtpError(550, '5.7.1'));
  await assert.rejects(send('news@example.com', ['x@remote.example'], msg('news@example.com')), smtpError(550, '5.7.1'), 'alias without AllowMsgFrom');
  await assert.rejects(send('someone@elsewhere.example', ['x@remote.example'], msg('mjl@example.com')), smtpError(550, '5.7.1'));
  const [id] = await send('mjl+tag@example.com', ['x@remote.example'], msg('MJL+other@example.com'));
  assert.equal(ts.server.queue.get(id!)!.senderLocalpart, 'mjl+tag');
  const [a] = await send('team@example.com', ['x@remote.example'], msg('team@example.com'));
  assert.equal(ts.server.queue.get(a!)!.senderAccount, 'mjl');
  const [b] = await send('team@example.com', ['x@remote.example'], msg('team@example.com'), 'bob@example.com');
  assert.equal(ts.server.queue.get(b!)!.senderAccount, 'bob');
});

test('Message-ID and Date added; DKIM signatures (ed25519 and RSA) verify with the published keys', async () => {
  const raw = msg('mjl@example.com');
  const [id] = await send('mjl@example.com', ['x@remote.example'], raw);
  const bytes = await ts.server.queue.messageBytes(id!);
  const text = bytes.toString();
  assert.match(text, /\r\nMessage-ID: <[A-Za-z0-9_-]+@mail\.example\.com>\r\n/);
  assert.match(text, /\r\nDate: \w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d \+0000\r\n/);
  assert.equal(ts.server.queue.get(id!)!.messageId, /Message-ID: (<[^>]+>)/.exec(text)![1]);
  assert.ok(text.endsWith(raw), 'the submitted bytes follow the added header fields unchanged');
  const v = await verifyMessage({ message: bytes, ip: '127.0.0.1', helo: 'mail.example.com', mailFrom: 'mjl@example.com', hostname: 'mx.remote.example', resolver: ts.dns.resolver });
  const passed = v.dkim.filter((d) => d.result === 'pass').map((d) => `${d.selector}/${d.algorithm}`).sort();
  assert.deepEqual(passed, ['sel1/ed25519-sha256', 'sel2/rsa-sha256'], JSON.stringify(v.dkim));
  assert.ok(v.dkim.every((d) => d.domain === 'example.com'));
  // A large message (spilled to a temp file during DATA, signed while streaming it) verifies too,
  // also when X-Mox-Extra headers were removed from it.
  const big = msg('mjl@example.com', 'X-Mox-Extra-Big: yes\r\n').replace('hello\r\n', 'a line of text for a big body.\r\n'.repeat(20_000));
  const [bigId] = await send('mjl@example.com', ['x@remote.example'], big);
  const bigBytes = await ts.server.queue.messageBytes(bigId!);
  assert.ok(bigBytes.length > 600_000);
  const vb = await verifyMessage({ message: bigBytes, ip: '127.0.0.1', helo: 'mail.example.com', mailFrom: 'mjl@example.com', hostname: 'mx.remote.example', resolver: ts.dns.resolver });
  assert.deepEqual(vb.dkim.map((d) => d.result), ['pass', 'pass'], JSON.stringify(vb.dkim));
  assert.deepEqual(ts.server.queue.get(bigId!)!.extra, { Big: 'yes' });
  // A message with its own Message-ID and Date keeps them.
  const own = `Message-ID: <own@client.example>\r\nDate: Fri, 20 Nov 2026 10:00:00 +0000\r\n${raw}`;
  const [id2] = await send('mjl@example.com', ['x@remote.example'], own);
  assert.equal(ts.server.queue.get(id2!)!.messageId, '<own@client.example>');
  const b2 = (await ts.server.queue.messageBytes(id2!)).toString();
  assert.equal(b2.match(/^Message-ID:/gim)!.length, 1);
  assert.equal(b2.match(/^Date:/gim)!.length, 1);
});

test('X-Mox-Extra headers become Extra and are removed; a duplicate key is refused with 554 5.6.0 (swaks)', async () => {
  const raw = msg('mjl@example.com', 'X-Mox-Extra-Customer-Id: c-123\r\nx-mox-extra-campaign: spring\r\n');
  const [id] = await send('mjl@example.com', ['x@remote.example'], raw);
  const q = ts.server.queue.get(id!)!;
  assert.deepEqual(q.extra, { 'Customer-Id': 'c-123', Campaign: 'spring' });
  assert.doesNotMatch((await ts.server.queue.messageBytes(id!)).toString(), /x-mox-extra/i);

  const file = join(ts.dir, 'dup-extra.eml');
  writeFileSync(file, msg('mjl@example.com', 'X-Mox-Extra-A: 1\r\nX-Mox-Extra-a: 2\r\n'));
  const r = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
    const c = spawn('swaks', [
      '--server', '127.0.0.1', '--port', String(ts.submissionPort), '--tls', '--auth', 'PLAIN', '--auth-user', 'mjl@example.com', '--auth-password', PASSWORD,
      '--from', 'mjl@example.com', '--to', 'x@remote.example', '--helo', 'swaks.example', '--data', file,
    ]);
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    c.on('error', reject);
    c.on('close', (code) => resolve({ code, out }));
  });
  assert.notEqual(r.code, 0);
  assert.match(r.out, /<~?\*+\s+554 5\.6\.0 duplicate x-mox-extra header for key "A"/);
});

test('send limits: 451 4.7.1 past MaxOutgoingMessagesPerDay and MaxFirstTimeRecipientsPerDay', async () => {
  const u = 'limited@example.com';
  await send(u, ['a@remote.example', 'b@remote.example'], msg(u), u);
  // 2 sent; two more first-time recipients would make 4 > 3.
  await assert.rejects(send(u, ['c@remote.example', 'd@remote.example'], msg(u), u), smtpError(451, '4.7.1'));
  await send(u, ['a@remote.example', 'b@remote.example'], msg(u), u);
  // 4 messages (recipients) in 24 h: the limit.
  await assert.rejects(send(u, ['a@remote.example'], msg(u), u), smtpError(451, '4.7.1'));
  // Other accounts are not affected.
  await send('bob@example.com', ['a@remote.example'], msg('bob@example.com'), 'bob@example.com');
});

test('FUTURERELEASE: HOLDFOR and HOLDUNTIL set the first attempt; more than 60 days is 554 5.5.4', async () => {
  const c = await authed();
  try {
    const before = Date.now();
    assert.equal((await c.cmd('MAIL FROM:<mjl@example.com> HOLDFOR=3600')).code, 250);
    assert.equal((await c.cmd('RCPT TO:<x@remote.example>')).code, 250);
    assert.equal((await c.cmd('DATA')).code, 354);
    c.write(msg('mjl@example.com') + '.\r\n');
    const d = await c.reply();
    assert.equal(d.code, 250, d.text);
    const q = ts.server.queue.get(Number(/id (\d+)/.exec(d.text)![1]))!;
    assert.equal(q.futureRelease, 'for;3600');
    assert.ok(q.nextAttempt.getTime() >= before + 3600_000 && q.nextAttempt.getTime() <= Date.now() + 3600_000);

    const until = new Date(Math.ceil(Date.now() / 1000) * 1000 + 7 * 86400_000);
    const untilStr = until.toISOString().replace('.000Z', 'Z');
    const d2 = await sendRawWith(c, `MAIL FROM:<mjl@example.com> HOLDUNTIL=${untilStr}`, 'RCPT TO:<x@remote.example>');
    assert.equal(d2.code, 250, d2.text);
    const q2 = ts.server.queue.get(Number(/id (\d+)/.exec(d2.text)![1]))!;
    assert.equal(q2.nextAttempt.getTime(), until.getTime());
    assert.equal(q2.futureRelease, `until;${untilStr}`);

    const tooLong = await c.cmd(`MAIL FROM:<mjl@example.com> HOLDFOR=${60 * 86400 + 1}`);
    assert.equal(tooLong.code, 554);
    assert.equal(tooLong.enhanced, '5.5.4');
    const far = new Date(Date.now() + 61 * 86400_000).toISOString().replace(/\.\d+Z$/, 'Z');
    const tooFar = await c.cmd(`MAIL FROM:<mjl@example.com> HOLDUNTIL=${far}`);
    assert.equal(tooFar.code, 554);
    assert.equal(tooFar.enhanced, '5.5.4');
    const past = await c.cmd('MAIL FROM:<mjl@example.com> HOLDUNTIL=2020-01-01T00:00:00Z');
    assert.equal(past.code, 554);
    const both = await c.cmd('MAIL FROM:<mjl@example.com> HOLDFOR=10 HOLDUNTIL=2030-01-01T00:00:00Z');
    assert.equal(both.code, 554);
    // Exactly 60 days is allowed.
    assert.equal((await c.cmd(`MAIL FROM:<mjl@example.com> HOLDFOR=${60 * 86400}`)).code, 250);
    await c.cmd('RSET');
  } finally {
    c.close();
  }
});

async function sendRawWith(c: RawSmtp, mail: string, rcpt: string, body = msg('mjl@example.com')) {
  const m = await c.cmd(mail);
  if (m.code !== 250) return m;
  const r = await c.cmd(rcpt);
  if (r.code !== 250) return r;
  assert.equal((await c.cmd('DATA')).code, 354);
  c.write(body + '.\r\n');
  return c.reply();
}

test('DSN parameters (NOTIFY, ORCPT, RET, ENVID) are stored per recipient; REQUIRETLS kept', async () => {
  const c = await authed();
  try {
    const d = await sendRawWith(c, 'MAIL FROM:<mjl@example.com> RET=HDRS ENVID=env+2B1 REQUIRETLS', 'RCPT TO:<x@remote.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x+2Bo@remote.example');
    assert.equal(d.code, 250, d.text);
    const q = ts.server.queue.get(Number(/id (\d+)/.exec(d.text)![1]))!;
    assert.deepEqual(q.dsn, { notify: ['SUCCESS', 'FAILURE'], orcpt: 'rfc822;x+o@remote.example', envid: 'env+1', ret: 'HDRS' });
    assert.equal(q.requireTLS, true);
  } finally {
    c.close();
  }
});

test('fromid: logging in with a FromIDLoginAddresses address gives each recipient its own MAIL FROM', async () => {
  const ids = await send('mjl@example.com', ['a@remote.example', 'b@remote.example'], msg('mjl@example.com'), 'fid@example.com');
  const rows = ids.map((i) => ts.server.queue.get(i)!);
  assert.equal(rows.length, 2);
  for (const r of rows) {
    assert.match(r.fromId!, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(r.senderLocalpart, `mjl+${r.fromId}`);
  }
  assert.notEqual(rows[0]!.fromId, rows[1]!.fromId);
  // The plain login address sends without.
  const [plain] = await send('mjl@example.com', ['a@remote.example'], msg('mjl@example.com'));
  assert.equal(ts.server.queue.get(plain!)!.fromId, null);
  // A MAIL FROM that brings its own fromid keeps it, for a single recipient only.
  const c = await authed('fid@example.com');
  try {
    const d = await sendRawWith(c, 'MAIL FROM:<mjl+ownid42@example.com>', 'RCPT TO:<a@remote.example>');
    assert.equal(d.code, 250, d.text);
    assert.equal(ts.server.queue.get(Number(/id (\d+)/.exec(d.text)![1]))!.fromId, 'ownid42');
    assert.equal((await c.cmd('MAIL FROM:<mjl+ownid43@example.com>')).code, 250);
    await c.cmd('RCPT TO:<a@remote.example>');
    await c.cmd('RCPT TO:<b@remote.example>');
    assert.equal((await c.cmd('DATA')).code, 354);
    c.write(msg('mjl@example.com') + '.\r\n');
    const r = await c.reply();
    assert.equal(r.code, 554);
    assert.equal(r.enhanced, '5.5.3');
  } finally {
    c.close();
  }
});

test('local recipients are queued too; hold rules apply to new submissions', async () => {
  const [local] = await send('mjl@example.com', ['bob@example.com'], msg('mjl@example.com'));
  const row = ts.server.queue.get(local!)!;
  assert.equal(`${row.recipientLocalpart}@${row.recipientDomain}`, 'bob@example.com');
  const bob = ts.server.store.account('bob');
  assert.equal(bob.listMessages(bob.mailbox('Inbox')!.id).length, 0, 'not delivered directly');

  // Replace the catch-all rule by one for a single recipient domain.
  const q = ts.server.queue;
  for (const r of q.listHoldRules()) q.removeHoldRule(r.id);
  const rule = q.addHoldRule({ account: '', senderDomain: '', recipientDomain: 'held.example' });
  try {
    const c = await authed();
    try {
      const d = await sendRawWith(c, 'MAIL FROM:<mjl@example.com> HOLDFOR=3600', 'RCPT TO:<x@held.example>');
      const d2 = await sendRawWith(c, 'MAIL FROM:<mjl@example.com> HOLDFOR=3600', 'RCPT TO:<x@free.example>');
      assert.equal(q.get(Number(/id (\d+)/.exec(d.text)![1]))!.hold, true);
      assert.equal(q.get(Number(/id (\d+)/.exec(d2.text)![1]))!.hold, false);
    } finally {
      c.close();
    }
  } finally {
    q.removeHoldRule(rule.rule.id);
    q.addHoldRule({ account: '', senderDomain: '', recipientDomain: '' });
  }
});

test('a plain RawSmtp multi-recipient submission shares one message file', async () => {
  const c = await authed();
  try {
    const m = msg('mjl@example.com');
    const d = await sendRaw(c, 'mjl@example.com', ['a@r1.example', 'b@r2.example', 'c@r1.example'], m);
    assert.equal(d.code, 250);
    const [, first, last] = /id (\d+)-(\d+)/.exec(d.text)!.map(Number);
    assert.equal(last! - first!, 2);
    const rows = [first!, first! + 1, last!].map((i) => ts.server.queue.get(i)!);
    assert.ok(rows.every((r) => r.baseId === first));
  } finally {
    c.close();
  }
});

test('end to end: authenticated submission (nodemailer) → queue → remote MX from DNS: received byte for byte, DKIM verifies there', async () => {
  const raw = `From: <mjl@example.com>\r\nTo: <rcpt@dkim-sink.example>\r\nSubject: end to end\r\n\r\nhello remote\r\n.leading dot survives\r\n`;
  const [id] = await send('mjl@example.com', ['rcpt@dkim-sink.example'], raw);
  const queued = await ts.server.queue.messageBytes(id!);
  // Everything is held by the suite's hold rule; release this one and let the scheduler deliver it.
  assert.equal(ts.server.queue.hold({ ids: [id!] }, false), 1);
  ts.server.scheduler!.kick();
  await ts.server.scheduler!.idle();
  assert.equal(ts.server.queue.get(id!), undefined, `still queued: ${JSON.stringify(ts.server.queue.get(id!)?.results)}`);
  const conn = sink.connections.find((c) => c.commands.some((l) => /^RCPT TO:<rcpt@dkim-sink\.example>/i.test(l)))!;
  assert.ok(conn, sink.commands.join('\n'));
  assert.ok(conn.commands.some((l) => /^MAIL FROM:<mjl@example\.com>/i.test(l)));
  assert.equal(conn.messages.length, 1);
  const got = conn.messages[0]!;
  assert.ok(got.equals(queued), 'the remote received exactly the signed bytes that were queued');
  assert.ok(got.toString().endsWith(raw), 'the submitted message follows the added header fields unchanged');
  // The remote's view: our DKIM signatures verify with the keys in DNS.
  const v = await verifyMessage({ message: got, ip: '127.0.0.1', helo: 'mail.example.com', mailFrom: 'mjl@example.com', hostname: 'mx.dkim-sink.example', resolver: ts.dns.resolver });
  assert.deepEqual(v.dkim.map((d) => `${d.selector}/${d.result}`).sort(), ['sel1/pass', 'sel2/pass'], JSON.stringify(v.dkim));
});
