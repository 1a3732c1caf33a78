/**
 * Outgoing-event webhooks against a real HTTP receiver on 127.0.0.1: every event type with mox's
 * exact payload and headers, Standard Webhooks signatures (verified with the documented helper;
 * a tampered body or a stale timestamp fails), the retry schedule under an injected clock
 * (500, then 201 = failure, then 200), Retry-After, superseding, and the Events filter.
 * Events are inserted with queue/events.ts recordEvent, as the queue and DSN handling do.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from './helpers/server.js';
import { WebhookReceiver, type Received } from './helpers/webhook-receiver.js';
import { recordEvent, OUTGOING_EVENTS, type NewEvent } from '../queue/events.js';
import { verifyWebhook, WebhookVerificationError } from '../webhook/sign.js';
import { RETRY_INTERVALS_MS, MAX_ATTEMPTS } from '../webhook/schedule.js';

const T0 = Date.UTC(2026, 10, 21, 12, 0, 0);

interface Env {
  ts: TestServer;
  rx: WebhookReceiver;
  now: { ms: number };
  record(e: Omit<NewEvent, 'account'> & { account?: string }): void;
  secret(account?: string): string;
}

async function withServer(accounts: (url: string) => Record<string, unknown>, fn: (e: Env) => Promise<void>): Promise<void> {
  const rx = await WebhookReceiver.start();
  const now = { ms: T0 };
  const ts = await startTestServer({
    clock: () => new Date(now.ms),
    domains: { 'example.com': {} },
    accounts: accounts(rx.url) as never,
  });
  try {
    await fn({
      ts,
      rx,
      now,
      record: (e) => {
        recordEvent(ts.server.queue.db, { account: 'mjl', ...e } as NewEvent, new Date(now.ms));
        ts.server.webhooks.worker.kick();
      },
      secret: (account = 'mjl') => ts.server.webhooks.store.secrets(account).current,
    });
  } finally {
    await ts.stop();
    await rx.close();
  }
}

const mjl = (url: string, extra: Record<string, unknown> = {}) => ({
  mjl: {
    Domain: 'example.com',
    Destinations: { 'mjl@example.com': {} },
    KeepRetiredWebhookPeriod: '24h',
    OutgoingWebhook: { URL: `${url}/out`, Authorization: 'Bearer s3cret' },
    ...extra,
  },
});

function payload(r: Received): Record<string, unknown> {
  return JSON.parse(r.body) as Record<string, unknown>;
}

async function settle(e: Env, n: number): Promise<void> {
  await e.rx.waitFor(n);
  await e.ts.server.webhooks.worker.idle();
}

test('every outgoing event type arrives with mox payload fields, headers and a valid signature', async () => {
  await withServer(mjl, async (e) => {
    const events = [...OUTGOING_EVENTS];
    assert.ok(events.includes('complained'));
    events.forEach((ev, i) =>
      e.record({
        event: ev,
        queueMsgId: 100 + i,
        fromId: `fid${i}`,
        messageId: `<m${i}@example.com>`,
        subject: `subject ${i}`,
        extra: { n: String(i) },
        dsn: ev === 'relayed' || ev === 'expanded' || ev === 'unrecognized',
        suppressing: ev === 'failed',
        smtpCode: ev === 'delivered' ? 250 : 550,
        enhancedCode: ev === 'delivered' ? '' : '5.1.1',
        error: ev === 'delivered' ? '' : 'no such user',
      }),
    );
    await settle(e, events.length);
    assert.equal(e.rx.requests.length, events.length);
    const secret = e.secret();
    assert.match(secret, /^whsec_[A-Za-z0-9+/]+=*$/);
    const byEvent = new Map(e.rx.requests.map((r) => [payload(r).Event as string, r]));
    events.forEach((ev, i) => {
      const r = byEvent.get(ev);
      assert.ok(r, `event ${ev} delivered`);
      assert.equal(r.path, '/out');
      assert.deepEqual(payload(r), {
        Version: 0,
        Event: ev,
        DSN: ev === 'relayed' || ev === 'expanded' || ev === 'unrecognized',
        Suppressing: ev === 'failed',
        QueueMsgID: 100 + i,
        FromID: `fid${i}`,
        MessageID: `<m${i}@example.com>`,
        Subject: `subject ${i}`,
        WebhookQueued: new Date(T0).toISOString(),
        SMTPCode: ev === 'delivered' ? 0 : 550,
        SMTPEnhancedCode: ev === 'delivered' ? '' : '5.1.1',
        Error: ev === 'delivered' ? '' : 'no such user',
        Extra: { n: String(i) },
      });
      // Exact key order as mox marshals it.
      assert.deepEqual(Object.keys(payload(r)), ['Version', 'Event', 'DSN', 'Suppressing', 'QueueMsgID', 'FromID', 'MessageID', 'Subject', 'WebhookQueued', 'SMTPCode', 'SMTPEnhancedCode', 'Error', 'Extra']);
      const h = r.headers;
      assert.equal(h['content-type'], 'application/json; charset=utf-8');
      assert.match(String(h['user-agent']), /^moxts\/\d+\.\d+\.\d+ \(webhook\)$/);
      assert.match(String(h['x-mox-webhook-id']), /^\d+$/);
      assert.equal(h['x-mox-webhook-attempt'], '1');
      assert.equal(h['authorization'], 'Bearer s3cret');
      assert.match(String(h['webhook-id']), /^msg_[A-Za-z0-9_-]+$/);
      assert.equal(h['webhook-timestamp'], String(T0 / 1000));
      assert.match(String(h['webhook-signature']), /^v1,[A-Za-z0-9+/]+=*$/);
      // The documented receiver-side check passes with the account's secret and the attempt's time...
      verifyWebhook(secret, h, r.body, { now: T0 });
      // ...and fails for a tampered body, a stale or future timestamp, another secret, or a missing header.
      assert.throws(() => verifyWebhook(secret, h, r.body.replace('"Version":0', '"Version":1'), { now: T0 }), WebhookVerificationError);
      assert.throws(() => verifyWebhook(secret, h, r.body, { now: T0 + 6 * 60_000 }), /timestamp/);
      assert.throws(() => verifyWebhook(secret, h, r.body, { now: T0 - 6 * 60_000 }), /timestamp/);
      assert.throws(() => verifyWebhook(e.secret('other-account'), h, r.body, { now: T0 }), /no matching signature/);
      assert.throws(() => verifyWebhook(secret, { ...h, 'webhook-timestamp': String(T0 / 1000 + 1) }, r.body, { now: T0 }), /no matching signature/);
      assert.throws(() => verifyWebhook(secret, { ...h, 'webhook-signature': undefined }, r.body, { now: T0 }), /missing/);
    });
    // Ids are unique per hook; the event log was consumed; every hook retired as a success.
    assert.equal(new Set(e.rx.requests.map((r) => r.headers['webhook-id'])).size, events.length);
    assert.equal(e.ts.server.queue.db.prepare('SELECT count(*) FROM event').pluck().get(), 0);
    assert.equal(e.ts.server.webhooks.store.count(), 0);
    const retired = e.ts.server.webhooks.store.listRetired({}, 100);
    assert.equal(retired.length, events.length);
    for (const h of retired) {
      assert.equal(h.success, true);
      assert.equal(h.hasAuthorization, true);
      assert.equal(h.results.length, 1);
      assert.equal(h.results[0]!.code, 200);
      assert.equal(h.results[0]!.response, 'ok');
      assert.equal(h.keepUntil.getTime(), T0 + 86_400_000);
    }
  });
});

test('retries follow the schedule under an injected clock: 500, then 201 (a failure), then 200', async () => {
  await withServer(mjl, async (e) => {
    const codes = [500, 201, 200];
    e.rx.respond = (_r, n) => ({ status: codes[n - 1], body: `attempt ${n} ` + 'x'.repeat(1000) });
    e.record({ event: 'delivered', queueMsgId: 7 });
    const store = e.ts.server.webhooks.store;
    for (let n = 1; n <= 3; n++) {
      await settle(e, n);
      if (n === 3) break;
      const h = store.list()[0]!;
      assert.equal(h.attempts, n);
      const wait = h.nextAttempt.getTime() - e.now.ms;
      const want = RETRY_INTERVALS_MS[n - 1]!;
      assert.ok(Math.abs(wait - want) <= want * 0.01, `wait after attempt ${n} is ${wait}, want ${want} ±1%`);
      // Not before it is due...
      e.now.ms = h.nextAttempt.getTime() - 1000;
      e.ts.server.webhooks.worker.kick();
      await e.ts.server.webhooks.worker.idle();
      assert.equal(e.rx.requests.length, n);
      // ...then at the due time.
      e.now.ms = h.nextAttempt.getTime();
      e.ts.server.webhooks.worker.kick();
    }
    const reqs = e.rx.requests;
    assert.deepEqual(
      reqs.map((r) => r.headers['x-mox-webhook-attempt']),
      ['1', '2', '3'],
    );
    assert.equal(new Set(reqs.map((r) => r.headers['webhook-id'])).size, 1, 'same webhook-id on every attempt');
    assert.equal(new Set(reqs.map((r) => r.headers['x-mox-webhook-id'])).size, 1);
    assert.equal(new Set(reqs.map((r) => r.body)).size, 1, 'same body on every attempt');
    // Each attempt is signed with its own timestamp.
    for (const r of reqs) verifyWebhook(e.secret(), r.headers, r.body, { now: Number(r.headers['webhook-timestamp']) * 1000 });
    assert.equal(store.count(), 0);
    const [h] = store.listRetired();
    assert.equal(h!.success, true);
    assert.deepEqual(
      h!.results.map((x) => [x.code, x.success]),
      [
        [500, false],
        [201, false],
        [200, true],
      ],
    );
    assert.equal(h!.results[0]!.response.length, 512, 'first 512 bytes of the response kept');
    assert.ok(h!.results[0]!.response.startsWith('attempt 1 '));
    assert.match(h!.results[1]!.error, /201/);
  });
});

test('12 attempts in all on mox schedule, then retired as failed; Retry-After pushes an attempt later', async () => {
  await withServer(mjl, async (e) => {
    e.rx.respond = (_r, n) => (n === 1 ? { status: 503, headers: { 'retry-after': '600' } } : { status: 500 });
    e.record({ event: 'failed', queueMsgId: 9 });
    const store = e.ts.server.webhooks.store;
    const waits: number[] = [];
    for (let n = 1; n <= MAX_ATTEMPTS; n++) {
      await settle(e, n);
      const h = store.list()[0];
      if (n === MAX_ATTEMPTS) {
        assert.equal(h, undefined);
        break;
      }
      waits.push(h!.nextAttempt.getTime() - e.now.ms);
      e.now.ms = h!.nextAttempt.getTime();
      e.ts.server.webhooks.worker.kick();
    }
    assert.equal(e.rx.requests.length, 12);
    // Retry-After: 600 s instead of 1 minute after the first attempt.
    assert.equal(waits[0], 600_000);
    waits.slice(1).forEach((w, i) => {
      const want = RETRY_INTERVALS_MS[i + 1]!;
      assert.ok(Math.abs(w - want) <= want * 0.01, `wait ${i + 2}: ${w} vs ${want}`);
    });
    const [r] = store.listRetired();
    assert.equal(r!.success, false);
    assert.equal(r!.attempts, 12);
    assert.equal(r!.results.length, 12);
  });
});

test('a newer event for the same queue message supersedes a still-queued hook', async () => {
  await withServer(mjl, async (e) => {
    e.rx.respond = (r) => (payload(r).Event === 'delayed' ? { status: 500 } : { status: 200 });
    e.record({ event: 'delayed', queueMsgId: 42, error: 'try later', smtpCode: 451 });
    await settle(e, 1);
    const store = e.ts.server.webhooks.store;
    const old = store.list()[0]!;
    assert.equal(old.outgoingEvent, 'delayed');
    // Another message's hook is not touched.
    e.rx.respond = () => ({ status: 500 });
    e.record({ event: 'delayed', queueMsgId: 43 });
    await settle(e, 2);
    e.rx.respond = (r) => (payload(r).Event === 'delayed' ? { status: 500 } : { status: 200 });
    e.record({ event: 'delivered', queueMsgId: 42 });
    await settle(e, 3);
    const last = e.rx.requests[2]!;
    assert.equal(payload(last).Event, 'delivered');
    assert.equal(payload(last).QueueMsgID, 42);
    const retiredOld = store.getRetired(old.id)!;
    assert.ok(retiredOld.supersededById > 0, 'old hook retired with SupersededByID');
    assert.equal(retiredOld.success, false);
    assert.equal(store.getRetired(retiredOld.supersededById)!.outgoingEvent, 'delivered');
    assert.deepEqual(
      store.list().map((h) => h.queueMsgId),
      [43],
    );
    // Moving time on sends nothing more for message 42.
    e.now.ms += 3_600_000;
    e.ts.server.webhooks.worker.kick();
    await settle(e, 4);
    assert.deepEqual(
      e.rx.requests.slice(3).map((r) => payload(r).QueueMsgID),
      [43],
    );
  });
});

test('the Events filter: only subscribed events become hooks; accounts without a webhook just consume events', async () => {
  await withServer(
    (url) => ({
      ...mjl(url, { OutgoingWebhook: { URL: `${url}/filtered`, Events: ['delivered', 'failed'] } }),
      other: { Domain: 'example.com', Destinations: { 'other@example.com': {} } },
    }),
    async (e) => {
      e.record({ event: 'delayed', queueMsgId: 1 });
      e.record({ event: 'delivered', queueMsgId: 2 });
      e.record({ event: 'suppressed', queueMsgId: 3 });
      e.record({ event: 'failed', queueMsgId: 4 });
      e.record({ account: 'other', event: 'delivered', queueMsgId: 5 });
      await settle(e, 2);
      // Wait until the log is empty (the consumer ran), then check nothing else was sent.
      while (e.ts.server.queue.db.prepare('SELECT count(*) FROM event').pluck().get() !== 0) await new Promise((r) => setImmediate(r));
      await e.ts.server.webhooks.worker.idle();
      assert.deepEqual(e.rx.requests.map((r) => [payload(r).Event, payload(r).QueueMsgID]).sort(), [
        ['delivered', 2],
        ['failed', 4],
      ]);
      assert.equal(e.rx.requests[0]!.headers['authorization'], undefined, 'no Authorization configured, none sent');
      assert.equal(e.ts.server.webhooks.store.listRetired({ account: 'other' }).length, 0);
    },
  );
});
