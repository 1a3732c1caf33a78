/**
 * The outgoing queue end to end: a real moxts server whose scheduler delivers queued messages to
 * remote MX hosts on 127.0.0.1 — scripted SMTP sinks (smtp/client/testsink.ts) and a second moxts
 * — found through MX records published by a dns2 server. The clock is injected: retries happen by
 * moving it, never by waiting. Messages enter the queue with QueueStore.add (as submission does).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startTestServer, type TestServer } from './helpers/server.js';
import { startSink, closedPort, type Sink, type SinkOptions } from '../smtp/client/testsink.js';
import { generateSelfSignedCert } from '../cmd/tls-selfsigned.js';
import { createServer, type Server as HttpServer } from 'node:http';
import type { OutgoingPayload } from '../queue/events.js';
import { queueOp } from '../cmd/queue-ops.js';
import { ctlCall } from '../cmd/ctl.js';
import type { AddInput, QueuedMsg } from '../queue/store.js';

const T0 = Date.UTC(2026, 10, 21, 12, 0, 0);
let now = T0;
const clock = () => new Date(now);

let ts: TestServer;
let remote: TestServer;
let sinkCert: { key: string; cert: string };
let refused: number;
/**
 * Outgoing events, observed the way applications see them: the account's OutgoingWebhook posts
 * them here (the server's webhook worker consumes the queue's event log).
 */
const hooks: OutgoingPayload[] = [];
const hookWaiters = new Set<() => void>();
let hookServer: HttpServer;
/** MX host → port on 127.0.0.1 (every MX host resolves to 127.0.0.1). */
const ports = new Map<string, number>();
const sinks: Sink[] = [];

const ZONE = {
  'remote.example': { MX: [{ exchange: 'mx.remote.example', priority: 10 }] },
  'mx.remote.example': { A: ['127.0.0.1'] },
  'nullmx.example': { MX: [{ exchange: '.', priority: 0 }] },
  'implicit.example': { A: ['127.0.0.1'] },
  'two.example': { MX: [{ exchange: 'mx1.two.example', priority: 10 }, { exchange: 'mx2.two.example', priority: 20 }] },
  'mx1.two.example': { A: ['127.0.0.1'] },
  'mx2.two.example': { A: ['127.0.0.1'] },
};
/** Domains whose MX (mx.<domain>) is a sink set per test. */
const SINK_DOMAINS = ['ok.example', 'tls.example', 'partial.example', 'retry.example', 'perm.example', 'soft.example', 'fromid.example', 'notify.example', 'held.example', 'admin.example'];

before(async () => {
  const zone: Record<string, unknown> = { ...ZONE };
  for (const d of SINK_DOMAINS) {
    zone[d] = { MX: [{ exchange: `mx.${d}`, priority: 10 }] };
    zone[`mx.${d}`] = { A: ['127.0.0.1'] };
  }
  refused = await closedPort();
  hookServer = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hooks.push(JSON.parse(Buffer.concat(chunks).toString()) as OutgoingPayload);
      res.writeHead(200).end();
      for (const w of [...hookWaiters]) w();
    });
  });
  await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', r));
  const hookPort = (hookServer.address() as { port: number }).port;
  ts = await startTestServer({
    zone: zone as never,
    clock,
    accounts: {
      mjl: { Domain: 'example.com', Destinations: { 'mjl@example.com': {}, 'other@example.com': { Mailbox: 'Other' } }, KeepRetiredMessagePeriod: '72h', OutgoingWebhook: { URL: `http://127.0.0.1:${hookPort}/hook` } },
    },
    static: { Transports: { failer: { Fail: { SMTPCode: 554, SMTPMessage: 'no sending to this domain' } } } },
    delivery: { portFor: (host) => ports.get(host) ?? refused, connectTimeoutMs: 2000, commandTimeoutMs: 3000, dataTimeoutMs: 3000 },
  });
  // Global route: fail.example goes through the "failer" transport.
  const { writeFile, readFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const dconf = join(ts.dir, 'domains.conf');
  await writeFile(dconf, (await readFile(dconf, 'utf8')) + 'Routes:\n  - ToDomain: [fail.example]\n    Transport: failer\n');
  await runCtlReload(ts);
  remote = await startTestServer({ hostname: 'mx.remote.example', domains: { 'remote.example': {} }, accounts: { bob: { Domain: 'remote.example', Destinations: { 'bob@remote.example': {} } } } });
  ports.set('mx.remote.example', remote.smtpPort);
  const c = await generateSelfSignedCert(['mx.tls.example']);
  sinkCert = { key: c.keyPem, cert: c.certPem };
});

after(async () => {
  await Promise.all(sinks.map((s) => s.close()));
  await ts.stop();
  await remote.stop();
  await new Promise<void>((r) => hookServer.close(() => r()));
});

async function runCtlReload(t: TestServer): Promise<void> {
  await ctlCall(t.server.ctlPath, 'reload', {});
}

async function sinkFor(domain: string, o: SinkOptions = {}): Promise<Sink> {
  const s = await startSink(o);
  sinks.push(s);
  ports.set(`mx.${domain}`, s.port);
  return s;
}

const MSG = (to: string, extraHeaders = '') =>
  Buffer.from(`From: <mjl@example.com>\r\nTo: <${to}>\r\nSubject: test to ${to}\r\nMessage-ID: <m-${to}@example.com>\r\n${extraHeaders}\r\nHello ${to}.\r\n.leading dot\r\n`);

async function queue(recipients: Array<string | { address: string; fromId?: string; senderLocalpart?: string; notify?: string[] }>, over: Partial<AddInput> = {}): Promise<QueuedMsg[]> {
  const rs = recipients.map((r) => (typeof r === 'string' ? { address: r } : r));
  const first = rs[0]!.address;
  return ts.server.queue.add({
    account: 'mjl',
    mailFrom: { localpart: 'mjl', domain: 'example.com' },
    recipients: rs.map((r) => {
      const [localpart, domain] = r.address.split('@') as [string, string];
      return { localpart, domain, fromId: r.fromId, senderLocalpart: r.senderLocalpart, notify: r.notify };
    }),
    message: MSG(first),
    messageId: `<m-${first}@example.com>`,
    subject: `test to ${first}`,
    extra: { campaign: 'c1' },
    ...over,
  });
}

/** Let the scheduler look now and wait until every delivery it started has finished. */
async function run(): Promise<void> {
  ts.server.scheduler!.kick();
  await ts.server.scheduler!.idle();
}

/** The outgoing webhook payloads for these queue ids, once there are (at least) n of them. */
async function events(ids: number[], n = ids.length): Promise<OutgoingPayload[]> {
  const got = () => hooks.filter((h) => ids.includes(h.QueueMsgID));
  while (got().length < n) {
    await new Promise<void>((resolve) => {
      const w = () => {
        hookWaiters.delete(w);
        resolve();
      };
      hookWaiters.add(w);
    });
  }
  return got();
}

async function inbox(account = 'mjl', mailbox = 'Inbox'): Promise<string[]> {
  const acc = ts.server.store.account(account);
  const mb = acc.mailbox(mailbox);
  if (!mb) return [];
  return Promise.all(acc.listMessages(mb.id).map(async (m) => (await acc.readMessage(m.id)).toString()));
}

test('delivered to a real moxts MX: arrives byte for byte in the remote Inbox; retired; delivered event with Extra, SMTPCode 0', async () => {
  const [m] = await queue(['bob@remote.example']);
  assert.ok(Buffer.isBuffer(ts.server.queue.message(m!)), 'a small message is stored inline in queue.db');
  await run();
  assert.equal(ts.server.queue.get(m!.id), undefined, 'no longer queued');
  const r = ts.server.queue.getRetired(m!.id)!;
  assert.equal(r.outcome, 'delivered');
  assert.equal(r.attempts, 1);
  assert.equal(r.results.at(-1)!.success, true);
  assert.equal(r.results.at(-1)!.host, 'mx.remote.example');
  const acc = remote.server.store.account('bob');
  const msgs = acc.listMessages(acc.mailbox('Inbox')!.id);
  assert.equal(msgs.length, 1);
  const got = (await acc.readMessage(msgs[0]!.id)).toString();
  assert.ok(got.endsWith(MSG('bob@remote.example').toString()), 'message intact after dot-stuffing');
  assert.match(got, /^Return-Path: <mjl@example\.com>/);
  const [ev] = await events([m!.id]);
  assert.equal(ev!.Event, 'delivered');
  assert.equal(ev!.SMTPCode, 0);
  assert.equal(ev!.QueueMsgID, m!.id);
  assert.deepEqual(ev!.Extra, { campaign: 'c1' });
  assert.equal(ev!.MessageID, '<m-bob@remote.example@example.com>');
  assert.equal(ev!.Subject, 'test to bob@remote.example');
});

test('a message over the inline limit is a queue file, streamed to the MX byte for byte, removed after delivery', async () => {
  const body = Array.from({ length: 3000 }, (_, i) => `line ${i} ${'x'.repeat(40)}\r\n${i % 100 === 0 ? '.dot\r\n' : ''}`).join('');
  const big = Buffer.from(`From: <mjl@example.com>\r\nTo: <bob@remote.example>\r\nSubject: big\r\nMessage-ID: <big@example.com>\r\n\r\n${body}`);
  assert.ok(big.length > 65536);
  const [m] = await queue(['bob@remote.example'], { message: big, messageId: '<big@example.com>', subject: 'big' });
  const path = ts.server.queue.message(m!);
  assert.equal(typeof path, 'string', 'stored as a file');
  assert.ok(existsSync(path as string));
  await run();
  assert.equal(ts.server.queue.getRetired(m!.id)!.outcome, 'delivered');
  const acc = remote.server.store.account('bob');
  const all = await Promise.all(acc.listMessages(acc.mailbox('Inbox')!.id).map(async (x) => (await acc.readMessage(x.id)).toString()));
  assert.equal(all.filter((x) => x.endsWith(big.toString())).length, 1, 'arrived intact');
  assert.equal(existsSync(path as string), false, 'file removed with the last row');
});

test('recipients of one message and domain share one SMTP transaction; per-recipient results (250, 451, 550)', async () => {
  const sink = await sinkFor('partial.example', { rcpt: (a) => (a.startsWith('temp') ? '451 4.2.0 try later' : a.startsWith('gone') ? '550 5.1.1 no such user' : '250 2.1.5 ok') });
  const ms = await queue(['ok@partial.example', 'temp@partial.example', 'gone@partial.example']);
  await run();
  assert.equal(sink.connections.length, 1, 'one connection');
  assert.equal(sink.commands.filter((c) => c.startsWith('MAIL')).length, 1, 'one transaction');
  assert.deepEqual(sink.commands.filter((c) => c.startsWith('RCPT')).map((c) => /<([^>]+)>/.exec(c)![1]), ['ok@partial.example', 'temp@partial.example', 'gone@partial.example']);
  assert.equal(sink.connections[0]!.messages.length, 1);
  const [ok, temp, gone] = ms.map((m) => m.id) as [number, number, number];
  assert.equal(ts.server.queue.getRetired(ok)!.outcome, 'delivered');
  const t = ts.server.queue.get(temp)!;
  assert.equal(t.attempts, 1);
  assert.equal(t.results.at(-1)!.code, 451);
  assert.equal(t.nextAttempt.getTime() - now > 7 * 60_000, true, 'retry after the backoff');
  const g = ts.server.queue.getRetired(gone)!;
  assert.equal(g.outcome, 'failed');
  assert.equal(g.results.at(-1)!.enhanced, '5.1.1');
  assert.deepEqual((await events([ok, temp, gone])).map((e) => [e.QueueMsgID, e.Event, e.SMTPCode]).sort((x, y) => (x[0] as number) - (y[0] as number)), [
    [ok, 'delivered', 0],
    [temp, 'delayed', 451],
    [gone, 'failed', 550],
  ]);
  assert.equal((await events([gone]))[0]!.Suppressing, true, '550 5.1.1 suppresses at once');
  // One failure DSN to the sender, for the failed recipient only.
  const dsn = (await inbox()).find((x) => x.includes('gone@partial.example'))!;
  assert.match(dsn, /report-type=delivery-status/);
  assert.match(dsn, /Final-Recipient: rfc822; ?gone@partial\.example/i);
  assert.match(dsn, /Action: failed/);
  assert.match(dsn, /Status: 5\.1\.1/);
  assert.doesNotMatch(dsn, /Final-Recipient: rfc822; ?ok@/i);
  ts.server.queue.hold({ ids: [temp] }, true); // out of the way of later tests
});

test('4xx: retried on the 7.5 min doubling schedule (injected clock), one delayed DSN after the 5th failure, then delivered', async () => {
  let accept = false;
  const sink = await sinkFor('retry.example', { rcpt: () => (accept ? '250 ok' : '451 4.3.0 busy') });
  const [m] = await queue(['r@retry.example']);
  const gaps: number[] = [];
  for (let i = 1; i <= 5; i++) {
    await run();
    const cur = ts.server.queue.get(m!.id)!;
    assert.equal(cur.attempts, i);
    await events([m!.id], i); // each "delayed" webhook out before the next (a newer one supersedes a pending one)
    gaps.push(Math.round((cur.nextAttempt.getTime() - now) / 1000));
    // Not due before its time: a kick now delivers nothing.
    const conns = sink.connections.length;
    await run();
    assert.equal(sink.connections.length, conns);
    now = cur.nextAttempt.getTime();
  }
  for (const [i, g] of gaps.entries()) assert.ok(Math.abs(g - 450 * 2 ** i) <= 5, `gap ${i + 1}: ${g}s`);
  const delayed = (await inbox()).filter((x) => x.includes('r@retry.example') && /Action: delayed/.test(x));
  assert.equal(delayed.length, 1, 'one delayed DSN');
  assert.match(delayed[0]!, /Will-Retry-Until:/);
  accept = true;
  await run();
  const r = ts.server.queue.getRetired(m!.id)!;
  assert.equal(r.outcome, 'delivered');
  assert.equal(r.attempts, 6);
  assert.deepEqual(r.results.map((x) => x.success), [false, false, false, false, false, true]);
  assert.deepEqual((await events([m!.id], 6)).map((e) => e.Event), ['delayed', 'delayed', 'delayed', 'delayed', 'delayed', 'delivered']);
  assert.equal((await inbox()).filter((x) => x.includes('r@retry.example') && /Action: delayed/.test(x)).length, 1, 'still one delayed DSN');
});

test('5xx: failed at once with a failure DSN in the sender Inbox; suppressed recipient then fails without dialing (event suppressed)', async () => {
  const sink = await sinkFor('perm.example', { rcpt: () => '550 5.1.1 user unknown' });
  const [m] = await queue(['John.Doe+tag@perm.example']);
  await run();
  assert.equal(ts.server.queue.getRetired(m!.id)!.outcome, 'failed');
  assert.ok(ts.server.queue.lookupSuppression('mjl', 'johndoe@perm.example'));
  const [ev] = await events([m!.id]);
  assert.equal(ev!.Event, 'failed');
  assert.equal(ev!.Suppressing, true);
  assert.equal(ev!.SMTPEnhancedCode, '5.1.1');
  assert.ok((await inbox()).some((x) => /Final-Recipient: rfc822; ?John\.Doe\+tag@perm\.example/i.test(x) && /Action: failed/.test(x)));
  const conns = sink.connections.length;
  const [n] = await queue(['johndoe@perm.example']);
  await run();
  assert.equal(sink.connections.length, conns, 'not dialed');
  assert.equal(ts.server.queue.getRetired(n!.id)!.outcome, 'suppressed');
  const [ev2] = await events([n!.id]);
  assert.equal(ev2!.Event, 'suppressed');
  assert.match(ev2!.Error, /suppression list/);
  assert.ok((await inbox()).some((x) => /Final-Recipient: rfc822; ?johndoe@perm\.example/i.test(x) && /Action: failed/.test(x)), 'failure DSN for the suppressed one too');
});

test('other permanent failures suppress after three in a row; the third event says Suppressing', async () => {
  await sinkFor('soft.example', { rcpt: () => '554 5.2.2 mailbox full' });
  const seen: boolean[] = [];
  for (let i = 0; i < 3; i++) {
    const [m] = await queue(['full@soft.example']);
    await run();
    now += 1000;
    seen.push((await events([m!.id]))[0]!.Suppressing);
  }
  assert.deepEqual(seen, [false, false, true]);
  assert.match(ts.server.queue.lookupSuppression('mjl', 'full@soft.example')!.reason, /554/);
});

test('null MX: permanent 556 5.1.10 without connecting; implicit MX: delivered to the domain A record', async () => {
  const [m] = await queue(['x@nullmx.example']);
  await run();
  const r = ts.server.queue.getRetired(m!.id)!;
  assert.equal(r.outcome, 'failed');
  assert.equal(r.results.at(-1)!.code, 556);
  assert.equal(r.results.at(-1)!.enhanced, '5.1.10');
  const sink = await startSink();
  sinks.push(sink);
  ports.set('implicit.example', sink.port);
  const [n] = await queue(['y@implicit.example']);
  await run();
  assert.equal(ts.server.queue.getRetired(n!.id)!.outcome, 'delivered');
  assert.equal(sink.connections[0]!.messages.length, 1);
});

test('MX fallback: the first MX refuses connections, the second (higher preference value) gets the message', async () => {
  ports.set('mx1.two.example', refused);
  const sink = await startSink();
  sinks.push(sink);
  ports.set('mx2.two.example', sink.port);
  const [m] = await queue(['z@two.example']);
  await run();
  const r = ts.server.queue.getRetired(m!.id)!;
  assert.equal(r.outcome, 'delivered');
  assert.equal(r.results.at(-1)!.host, 'mx2.two.example');
  assert.equal(sink.connections.length, 1);
});

test('STARTTLS: used when offered; a broken handshake is retried in plaintext on the same host', async () => {
  const good = await sinkFor('tls.example', { tls: sinkCert });
  const [m] = await queue(['a@tls.example']);
  await run();
  assert.equal(ts.server.queue.getRetired(m!.id)!.outcome, 'delivered');
  assert.equal(good.connections[0]!.tls, true);
  const broken = await sinkFor('tls.example', { tls: sinkCert, starttls: 'garbage' });
  const [n] = await queue(['b@tls.example']);
  await run();
  assert.equal(ts.server.queue.getRetired(n!.id)!.outcome, 'delivered');
  assert.equal(broken.connections.length, 2);
  assert.equal(broken.connections[1]!.commands.includes('STARTTLS'), false, 'second connection in plaintext');
  assert.equal(broken.connections[1]!.messages.length, 1);
});

test('fromid: each recipient its own MAIL FROM <local+fromid@domain> and transaction; DSN parameters passed on when DSN is offered', async () => {
  const sink = await sinkFor('fromid.example');
  const ms = await queue(
    [
      { address: 'a@fromid.example', fromId: 'FIDa', senderLocalpart: 'mjl+FIDa', notify: ['FAILURE', 'DELAY'] },
      { address: 'b@fromid.example', fromId: 'FIDb' },
    ],
    { envid: 'env-1', ret: 'HDRS' },
  );
  await run();
  const mails = sink.commands.filter((c) => c.startsWith('MAIL')).sort();
  assert.equal(mails.length, 2);
  assert.match(mails[0]!, /^MAIL FROM:<mjl\+FIDa@example\.com>.* RET=HDRS ENVID=env-1/);
  assert.match(mails[1]!, /^MAIL FROM:<mjl\+FIDb@example\.com>/);
  assert.ok(sink.commands.some((c) => c === 'RCPT TO:<a@fromid.example> NOTIFY=FAILURE,DELAY'));
  const evs = await events(ms.map((m) => m.id));
  assert.deepEqual(evs.map((e) => e.FromID).sort(), ['FIDa', 'FIDb']);
});

test('NOTIFY: NEVER sends no failure DSN; SUCCESS to a next hop without DSN gives a "relayed" DSN', async () => {
  await sinkFor('notify.example', { ehlo: ['PIPELINING', '8BITMIME'], rcpt: (a) => (a.startsWith('bad') ? '550 5.1.1 no' : '250 ok') });
  const before = (await inbox()).length;
  await queue([{ address: 'bad@notify.example', notify: ['NEVER'] }]);
  await run();
  assert.equal((await inbox()).length, before, 'no DSN');
  await queue([{ address: 'good@notify.example', notify: ['SUCCESS'] }]);
  await run();
  const msgs = await inbox();
  assert.equal(msgs.length, before + 1);
  assert.match(msgs.at(-1)!, /Action: relayed/);
  assert.match(msgs.at(-1)!, /Final-Recipient: rfc822; ?good@notify\.example/i);
});

test('local recipients are delivered into the account (destination mailbox), without SMTP', async () => {
  const [m] = await queue(['other@example.com']);
  await run();
  assert.equal(ts.server.queue.getRetired(m!.id)!.outcome, 'delivered');
  const other = await inbox('mjl', 'Other');
  assert.equal(other.length, 1);
  assert.match(other[0]!, /^Return-Path: <mjl@example\.com>\r\n/);
  assert.ok(other[0]!.endsWith(MSG('other@example.com').toString()));
  const [n] = await queue(['nobody@example.com']);
  await run();
  const r = ts.server.queue.getRetired(n!.id)!;
  assert.equal(r.outcome, 'failed');
  assert.equal(r.results.at(-1)!.enhanced, '5.1.1');
});

test('routes: a global route sends fail.example through the Fail transport (554, permanent)', async () => {
  const [m] = await queue(['x@fail.example']);
  await run();
  const r = ts.server.queue.getRetired(m!.id)!;
  assert.equal(r.outcome, 'failed');
  assert.equal(r.results.at(-1)!.code, 554);
  assert.equal(r.results.at(-1)!.error, 'no sending to this domain');
  // The admin override of one message wins over routes: an unknown transport fails it.
  const [n] = await queue(['y@ok.example'], { transport: 'nosuch' });
  await run();
  assert.match(ts.server.queue.getRetired(n!.id)!.results.at(-1)!.error, /transport "nosuch" not configured/);
});

test('hold rules hold existing messages; admin unhold/drop/fail take effect at once (events canceled/failed)', async () => {
  const sink = await sinkFor('held.example');
  const ms = await queue(['a@held.example', 'b@held.example', 'c@held.example'], { futureRelease: { at: new Date(now + 3600_000), request: 'for;3600' } });
  const rule = ts.server.queue.addHoldRule({ account: '', senderDomain: '', recipientDomain: 'held.example' });
  assert.equal(rule.held, 3);
  now += 2 * 3600_000;
  await run();
  assert.equal(sink.connections.length, 0, 'held: not attempted');
  const [a, b, c] = ms.map((m) => m.id) as [number, number, number];
  ts.server.queue.removeHoldRule(rule.rule.id);
  const ctx = { hostname: 'mail.example.com', deliverToAccount: async () => {} };
  assert.equal(await queueOp(ts.server.queue, 'unhold', { filter: { ids: [a] } }, ctx), 1);
  await ts.server.scheduler!.idle(); // the change kicked the scheduler by itself
  await new Promise((r) => setImmediate(r));
  await ts.server.scheduler!.idle();
  assert.equal(ts.server.queue.getRetired(a)!.outcome, 'delivered');
  await queueOp(ts.server.queue, 'drop', { filter: { ids: [b] } }, ctx);
  await queueOp(ts.server.queue, 'fail', { filter: { ids: [c] } }, ctx);
  assert.deepEqual((await events([a, b, c])).map((e) => [e.QueueMsgID, e.Event]).sort((x, y) => (x[0] as number) - (y[0] as number)), [
    [a, 'delivered'],
    [b, 'canceled'],
    [c, 'failed'],
  ]);
  assert.equal((await events([c]))[0]!.Error, 'delivery canceled by admin');
});
