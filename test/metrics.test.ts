/**
 * The Prometheus endpoint end to end: a real server with a MetricsHTTP listener on 127.0.0.1:0,
 * mail in over SMTP port 25 (nodemailer) with an incoming webhook to a local receiver, mail out
 * through submission (587 with STARTTLS and AUTH) and the webapi, delivered by the queue to a local
 * account, refused by a null-MX domain, deferred by an MX whose port is closed, held by a hold
 * rule; an IMAP session open and closed (imapflow). After each step the real `curl` reads
 * /metrics and the counters and gauges must have moved by exactly what happened.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createTransport } from 'nodemailer';
import { ImapFlow } from 'imapflow';
import { startTestServer, type TestServer } from './helpers/server.js';
import { WebhookReceiver } from './helpers/webhook-receiver.js';
import { closedPort } from '../smtp/client/testsink.js';
import { WebapiClient } from '../webapi/client.js';

const PASSWORD = 'metrics-test-1';
let ts: TestServer;
let receiver: WebhookReceiver;
let metricsPort = 0;
let webapiBase = '';

before(async () => {
  receiver = await WebhookReceiver.start();
  const refused = await closedPort();
  ts = await startTestServer({
    imap: true,
    listener: {
      Submission: { Enabled: true, Port: 0 },
      WebAPIHTTP: { Enabled: true, Port: 0 },
      MetricsHTTP: { Enabled: true, Port: 0 },
    },
    accounts: {
      mjl: { Domain: 'example.com', Destinations: { 'mjl@example.com': {} }, IncomingWebhook: { URL: `${receiver.url}/incoming` } },
      bob: { Domain: 'example.com', Destinations: { 'bob@example.com': {} } },
    },
    passwords: { mjl: PASSWORD },
    zone: {
      'nullmx.example': { MX: [{ exchange: '.', priority: 0 }] },
      'down.example': { MX: [{ exchange: 'mx.down.example', priority: 10 }] },
      'mx.down.example': { A: ['127.0.0.1'] },
    } as never,
    delivery: { portFor: () => refused, connectTimeoutMs: 2000 },
  });
  metricsPort = ts.server.listeners.find((l) => l.service === 'metrics')!.port;
  webapiBase = `http://127.0.0.1:${ts.server.listeners.find((l) => l.service === 'webapi')!.port}/webapi/v0/`;
  ts.server.queue.addHoldRule({ account: '', senderDomain: '', recipientDomain: 'held.example' });
});

after(async () => {
  await ts?.stop();
  await receiver?.close();
});

function curl(path = '/metrics'): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('curl', ['-sS', '--fail', '--max-time', '10', `http://127.0.0.1:${metricsPort}${path}`]);
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`curl exited ${code}: ${err}`))));
  });
}

/** The samples of a Prometheus text exposition: `name{a="b",...}` → value. */
function parse(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

class Scrape {
  constructor(readonly samples: Map<string, number>) {}
  static async take(): Promise<Scrape> {
    return new Scrape(parse(await curl()));
  }
  /** A sample's value; 0 when the series does not exist yet. Labels in the order prom-client writes them. */
  get(name: string, labels: Record<string, string> = {}): number {
    const l = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
    return this.samples.get(l.length ? `${name}{${l.join(',')}}` : name) ?? 0;
  }
}

/** Scrape with curl until `ok` holds (the queue and webhook worker run on their own). */
async function scrapeUntil(what: string, ok: (s: Scrape) => boolean): Promise<Scrape> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const s = await Scrape.take();
    if (ok(s)) return s;
    if (Date.now() > deadline) throw new Error(`metrics never showed ${what}:\n${[...s.samples].filter(([k]) => k.startsWith('moxts_') && !k.includes('_bucket')).map(([k, v]) => `${k} ${v}`).join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('GET /metrics over curl: exposition format; other paths 404', async () => {
  const text = await curl();
  assert.match(text, /^# HELP moxts_smtp_connections_total /m);
  assert.match(text, /^# TYPE moxts_queue_messages gauge$/m);
  assert.match(text, /^# TYPE moxts_queue_delivery_latency_seconds histogram$/m);
  assert.match(text, /^moxts_process_cpu_seconds_total /m);
  await assert.rejects(curl('/other'), /curl exited 22/);
});

test('an SMTP delivery on port 25 moves the connection, message, duration and webhook counters', async () => {
  const b = await Scrape.take();
  const t = createTransport({ host: '127.0.0.1', port: ts.smtpPort, secure: false, ignoreTLS: true });
  await t.sendMail({ envelope: { from: 'sender@remote.example', to: ['mjl@example.com'] }, raw: 'From: <sender@remote.example>\r\nTo: <mjl@example.com>\r\nSubject: metrics\r\n\r\nhello\r\n' });
  t.close();
  const a = await scrapeUntil('the incoming webhook request', (s) => s.get('moxts_webhook_requests_total', { result: 'ok' }) > b.get('moxts_webhook_requests_total', { result: 'ok' }));
  const d = (name: string, labels: Record<string, string> = {}) => a.get(name, labels) - b.get(name, labels);
  assert.equal(d('moxts_smtp_connections_total', { service: 'smtp', result: 'accepted' }), 1);
  assert.equal(d('moxts_smtp_recipients_total', { service: 'smtp', result: 'accepted' }), 1);
  assert.equal(d('moxts_smtp_messages_total', { service: 'smtp', result: 'accepted' }), 1);
  assert.equal(d('moxts_smtp_delivery_duration_seconds_count', { service: 'smtp' }), 1);
  assert.equal(d('moxts_webhook_requests_total', { result: 'ok' }), 1);
  assert.equal(d('moxts_webhook_request_duration_seconds_count'), 1);
  assert.equal(receiver.requests.length, 1);
  // The delivered webhook leaves the webhook queue (its result is committed just after the request).
  await scrapeUntil('an empty webhook queue', (s) => s.get('moxts_webhook_queue_messages') === 0);
});

test('submission and webapi: the queue delivers, fails, defers and holds; attempts, latency and queue gauges move', async () => {
  const b = await Scrape.take();
  const t = createTransport({ host: '127.0.0.1', port: ts.submissionPort, requireTLS: true, tls: { ca: [ts.certPem], servername: 'localhost' }, auth: { user: 'mjl@example.com', pass: PASSWORD } });
  await t.sendMail({ from: 'mjl@example.com', to: ['bob@example.com', 'x@nullmx.example', 'y@down.example', 'z@held.example'], subject: 'out', text: 'hi' });
  t.close();
  const webapi = new WebapiClient({ baseURL: webapiBase, username: 'mjl@example.com', password: PASSWORD });
  await webapi.send({ To: [{ Address: 'bob@example.com' }], Subject: 'via webapi', Text: 'hello' });

  const d0 = (a: Scrape) => (name: string, labels: Record<string, string> = {}) => a.get(name, labels) - b.get(name, labels);
  // Attempts are counted when their results are in, retired messages once that is committed.
  const a = await scrapeUntil('three delivery results, two deliveries and a failure committed', (s) => {
    const d = d0(s);
    return (
      d('moxts_queue_attempts_total', { result: 'delivered' }) >= 2 &&
      d('moxts_queue_attempts_total', { result: 'permanent' }) >= 1 &&
      d('moxts_queue_attempts_total', { result: 'temporary' }) >= 1 &&
      d('moxts_queue_retired_total', { outcome: 'delivered' }) >= 2 &&
      d('moxts_queue_retired_total', { outcome: 'failed' }) >= 1
    );
  });
  const d = d0(a);
  assert.equal(d('moxts_smtp_connections_total', { service: 'submission', result: 'accepted' }), 1);
  assert.equal(d('moxts_smtp_recipients_total', { service: 'submission', result: 'accepted' }), 4);
  assert.equal(d('moxts_smtp_messages_total', { service: 'submission', result: 'accepted' }), 1);
  assert.equal(d('moxts_smtp_delivery_duration_seconds_count', { service: 'submission' }), 1);
  assert.equal(d('moxts_webapi_results_total', { method: 'Send', result: 'ok' }), 1);
  assert.equal(d('moxts_webapi_duration_seconds_count', { method: 'Send' }), 1);
  // Per recipient: bob twice (submission, webapi) into his Inbox; null MX fails for good; the
  // closed port defers; the held one is not attempted.
  assert.equal(d('moxts_queue_attempts_total', { result: 'delivered' }), 2);
  assert.equal(d('moxts_queue_attempts_total', { result: 'permanent' }), 1);
  assert.equal(d('moxts_queue_attempts_total', { result: 'temporary' }), 1);
  assert.equal(d('moxts_queue_retired_total', { outcome: 'delivered' }), 2);
  assert.equal(d('moxts_queue_retired_total', { outcome: 'failed' }), 1);
  assert.equal(d('moxts_queue_delivery_latency_seconds_count'), 2);
  assert.ok(d('moxts_queue_attempt_duration_seconds_count') >= 3, 'one duration per attempt');
  // Left in the queue: the deferred and the held message (gauges read at scrape time).
  assert.equal(a.get('moxts_queue_messages'), 2);
  assert.equal(a.get('moxts_queue_held_messages'), 1);
  assert.equal(ts.server.queue.count(), 2);
  assert.equal(ts.server.store.account('bob').mailbox('Inbox')?.total, 2);
});

test('IMAP sessions gauge and command counters', async () => {
  const b = await Scrape.take();
  const c = new ImapFlow({ host: '127.0.0.1', port: ts.imapPort, secure: false, doSTARTTLS: false, auth: { user: 'mjl@example.com', pass: PASSWORD }, logger: false });
  await c.connect();
  const open = await Scrape.take();
  assert.equal(open.get('moxts_imap_sessions', { service: 'imap' }) - b.get('moxts_imap_sessions', { service: 'imap' }), 1);
  assert.equal(open.get('moxts_imap_connections_total', { service: 'imap', result: 'accepted' }) - b.get('moxts_imap_connections_total', { service: 'imap', result: 'accepted' }), 1);
  assert.ok(open.get('moxts_imap_commands_total', { command: 'LOGIN', result: 'ok' }) + open.get('moxts_imap_commands_total', { command: 'AUTHENTICATE', result: 'ok' }) >= 1);
  await c.logout();
  const closed = await scrapeUntil('the IMAP session closed', (s) => s.get('moxts_imap_sessions', { service: 'imap' }) === b.get('moxts_imap_sessions', { service: 'imap' }));
  assert.ok(closed.get('moxts_imap_commands_total', { command: 'LOGOUT', result: 'ok' }) >= 1);
});
