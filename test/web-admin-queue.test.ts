/**
 * The admin queue pages end to end: a real server (startWebServer) whose queue delivers to a
 * scripted SMTP sink on 127.0.0.1 answering 451 (so messages stay queued with an attempt in their
 * history), an injected clock that stands still (no retries happen by themselves), and a real
 * webhook receiver. Driven through the pages with WebSession (login, CSRF, post/redirect/get):
 * list, detail with the attempt history, hold/release, reschedule, fail, drop, the filtered
 * selection, keyset pagination, hold rules, retired messages, the webhook queue and replay, and
 * escaping of a subject that contains markup.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWebServer, ADMIN_PASSWORD, type WebTestServer, type WebSession } from './helpers/web.js';
import { WebhookReceiver } from './helpers/webhook-receiver.js';
import { startSink, closedPort, type Sink } from '../smtp/client/testsink.js';
import type { QueuedMsg } from '../queue/store.js';

const now = Date.now();
const clock = () => new Date(now);
const SCRIPT = '<script>alert(1)</script>';

let ts: WebTestServer;
let sink: Sink;
let rx: WebhookReceiver;
let admin: WebSession;

before(async () => {
  sink = await startSink({ rcpt: () => '451 4.3.0 mailbox busy, try later' });
  const refused = await closedPort();
  rx = await WebhookReceiver.start();
  rx.respond = () => ({ status: 503, body: 'down for maintenance' });
  ts = await startWebServer({
    clock,
    zone: { 'busy.example': { MX: [{ exchange: 'mx.busy.example', priority: 10 }] }, 'mx.busy.example': { A: ['127.0.0.1'] } } as never,
    delivery: { portFor: (host) => (host === 'mx.busy.example' ? sink.port : refused), connectTimeoutMs: 2000, commandTimeoutMs: 3000, dataTimeoutMs: 3000 },
    accounts: {
      mjl: {
        Domain: 'example.com',
        Destinations: { 'mjl@example.com': {} },
        KeepRetiredMessagePeriod: '72h',
        KeepRetiredWebhookPeriod: '24h',
        OutgoingWebhook: { URL: `${rx.url}/out` },
      },
    },
  });
  admin = ts.admin();
  assert.equal((await admin.login(ADMIN_PASSWORD)).status, 303);
});

after(async () => {
  await ts.stop();
  await sink.close();
  await rx.close();
});

async function queue(to: string[], subject: string): Promise<QueuedMsg[]> {
  return ts.server.queue.add({
    account: 'mjl',
    mailFrom: { localpart: 'mjl', domain: 'example.com' },
    recipients: to.map((a) => {
      const [localpart, domain] = a.split('@') as [string, string];
      return { localpart, domain };
    }),
    message: Buffer.from(`From: <mjl@example.com>\r\nTo: <${to[0]}>\r\nSubject: ${subject}\r\nMessage-ID: <${to[0]}-${to.length}@example.com>\r\n\r\nHello.\r\n`),
    messageId: `<${to[0]}-${to.length}@example.com>`,
    subject,
    extra: { campaign: 'autumn<b>' },
  });
}

/** Let the scheduler attempt what is due and wait for the attempts to finish. */
async function deliver(): Promise<void> {
  ts.server.scheduler!.kick();
  await ts.server.scheduler!.idle();
}

/** The message ids linked from a list page, in order. */
function ids(page: string, path = 'queue'): number[] {
  return [...page.matchAll(new RegExp(`<td><a href="/admin/${path}/(\\d+)">`, 'g'))].map((m) => Number(m[1]));
}

/** The href of the "Next page" link, relative to /admin/. */
function nextLink(page: string): string | undefined {
  const m = /<a href="\/admin\/([^"]+)" rel="next">Next page<\/a>/.exec(page);
  return m ? m[1]!.replace(/&amp;/g, '&') : undefined;
}

let first: QueuedMsg;

test('queue list and detail: attempt history, Extra, subject and addresses escaped', async () => {
  [first] = await queue(['bob@busy.example'], SCRIPT);
  await deliver();
  const m = ts.server.queue.get(first!.id)!;
  assert.equal(m.attempts, 1, 'one attempt made, message still queued');

  let r = await admin.get('queue');
  assert.equal(r.status, 200);
  assert.deepEqual(ids(r.text), [first!.id]);
  assert.match(r.text, /bob@busy\.example/);
  assert.match(r.text, /451 4\.3\.0 mailbox busy, try later/, 'last error in the list');
  assert.ok(r.text.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), 'subject shown as text');
  assert.ok(!r.text.includes(SCRIPT), 'no raw script in the list');

  r = await admin.get(`queue/${first!.id}`);
  assert.equal(r.status, 200);
  assert.ok(!r.text.includes(SCRIPT), 'no raw script on the detail page');
  assert.ok(r.text.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  // The attempt history: start, duration, success, SMTP code, enhanced code, remote host, error.
  const history = r.text.slice(r.text.indexOf('Delivery attempts'));
  assert.match(history, /<td>1<\/td><td><time datetime="[^"]+">[^<]+<\/time><\/td><td>\d+ ms<\/td><td>no<\/td><td>451<\/td><td>4\.3\.0<\/td><td>mx\.busy\.example<\/td><td>[^<]*mailbox busy, try later<\/td>/);
  assert.ok(r.text.includes('autumn&lt;b&gt;'), 'Extra shown, escaped');

  // The source page shows the message as it will be sent.
  r = await admin.get(`queue/${first!.id}/source`);
  assert.equal(r.status, 200);
  assert.ok(r.text.includes('Subject: &lt;script&gt;'));

  // Filters: a filter that matches nothing, and a bad time filter (the CLI's error shown).
  r = await admin.get('queue?to=%40nowhere.example');
  assert.match(r.text, /No queued messages match this filter/);
  r = await admin.get('queue?submitted=soon');
  assert.equal(r.status, 400);
  assert.match(r.text, /invalid time filter/);
  r = await admin.get('queue/999999');
  assert.equal(r.status, 404);
});

test('one message: hold, release, reschedule (relative to the next attempt), bad duration', async () => {
  const id = first!.id;
  let r = await admin.submit(`queue/${id}`, { op: 'hold' });
  assert.equal(r.status, 200);
  assert.match(r.text, new RegExp(`Message ${id} held\\.`));
  assert.equal(ts.server.queue.get(id)!.hold, true);
  assert.match(r.text, /Release from hold/);
  r = await admin.get('queue?hold=yes');
  assert.deepEqual(ids(r.text), [id]);

  r = await admin.submit(`queue/${id}`, { op: 'unhold' });
  assert.match(r.text, new RegExp(`Message ${id} released from hold\\.`));
  assert.equal(ts.server.queue.get(id)!.hold, false);

  // From the list: the row's button returns to the same list.
  r = await admin.get('queue?to=busy');
  r = await admin.post(`queue/${id}`, { op: 'hold', back: 'to=busy' });
  assert.equal(r.status, 303);
  assert.equal(r.headers.location, '/admin/queue?to=busy');
  await admin.post(`queue/${id}`, { op: 'unhold', back: '' });

  const before = ts.server.queue.get(id)!.nextAttempt.getTime();
  r = await admin.submit(`queue/${id}`, { op: 'schedule', duration: '1h', mode: 'next' });
  assert.match(r.text, /rescheduled/);
  assert.equal(ts.server.queue.get(id)!.nextAttempt.getTime(), before + 3_600_000);

  r = await admin.post(`queue/${id}`, { op: 'schedule', duration: 'soon', mode: 'now' });
  assert.equal(r.status, 400);
  assert.match(r.text, /invalid duration &quot;soon&quot;/);
  assert.match(r.text, /Delivery attempts/, 'the detail page again, with the error');
  assert.equal(ts.server.queue.get(id)!.nextAttempt.getTime(), before + 3_600_000, 'unchanged');

  // RequireTLS and transport, as `moxts queue requiretls|transport`.
  r = await admin.submit(`queue/${id}`, { op: 'requiretls', setrequiretls: 'yes' });
  assert.match(r.text, new RegExp(`Message ${id} given the RequireTLS setting\\.`));
  assert.equal(ts.server.queue.get(id)!.requireTLS, true);
  r = await admin.submit(`queue/${id}`, { op: 'requiretls', setrequiretls: 'default' });
  assert.equal(ts.server.queue.get(id)!.requireTLS, null);
  r = await admin.post(`queue/${id}`, { op: 'transport', settransport: 'nope' });
  assert.equal(r.status, 400);
  assert.match(r.text, /No transport &quot;nope&quot; in mox\.conf/);
  r = await admin.submit(`queue/${id}`, { op: 'transport', settransport: '' });
  assert.equal(ts.server.queue.get(id)!.transport, null);

  // Without the CSRF token nothing changes.
  r = await admin.post(`queue/${id}`, { op: 'hold' }, { csrf: null });
  assert.equal(r.status, 403);
  assert.equal(ts.server.queue.get(id)!.hold, false);
});

test('webhook queue: the delayed event with its 503 attempt; cancel; retired webhook replayed with the same webhook-id', async () => {
  await rx.waitFor(1);
  await ts.server.webhooks.worker.idle();
  let r = await admin.get('webhooks');
  assert.equal(r.status, 200);
  const [hid] = ids(r.text, 'webhooks');
  assert.ok(hid, 'a queued webhook is listed');
  assert.match(r.text, /delayed/);
  assert.match(r.text, /503 http status 503/);

  r = await admin.get(`webhooks/${hid}`);
  assert.equal(r.status, 200);
  assert.match(r.text, /<td>503<\/td>/);
  assert.match(r.text, /<code>down for maintenance<\/code>/);
  assert.ok(r.text.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), 'payload subject escaped');
  assert.ok(!r.text.includes(SCRIPT));

  // Reschedule by an hour from now; then cancel: the hook is retired as failed.
  r = await admin.submit(`webhooks/${hid}`, { op: 'schedule', duration: '1h', mode: 'now' });
  assert.match(r.text, new RegExp(`Webhook ${hid} rescheduled\\.`));
  r = await admin.submit(`webhooks/${hid}`, { op: 'cancel' });
  // The queued hook's page sends a hook that left the queue on to its retired record.
  assert.equal(r.status, 303);
  assert.equal(r.headers.location, `/admin/webhooks/retired/${hid}`);
  r = await admin.get(`webhooks/retired/${hid}`);
  assert.match(r.text, new RegExp(`Retired webhook ${hid}`), 'the canceled hook shows as retired');
  assert.match(r.text, new RegExp(`Webhook ${hid} canceled\\.`), 'the flash message survives the redirect');
  assert.match(r.text, /canceled by admin/);

  r = await admin.get('webhooks/retired?success=no');
  assert.deepEqual(ids(r.text, 'webhooks/retired'), [hid]);

  rx.respond = () => ({ status: 200, body: 'ok' });
  const seen = rx.requests.length;
  r = await admin.submit(`webhooks/retired/${hid}`, {});
  if (r.status === 303) r = await admin.get(String(r.headers.location).slice('/admin/'.length)); // already delivered
  assert.equal(r.status, 200);
  assert.match(r.text, new RegExp(`Retired webhook ${hid} queued again as webhook \\d+\\.`));
  await rx.waitFor(seen + 1);
  const original = JSON.parse(rx.requests[0]!.body) as { QueueMsgID: number };
  const replayed = rx.requests[seen]!;
  assert.equal(replayed.headers['webhook-id'], rx.requests[0]!.headers['webhook-id'], 'same webhook-id');
  assert.equal((JSON.parse(replayed.body) as { QueueMsgID: number }).QueueMsgID, original.QueueMsgID);
  await ts.server.webhooks.worker.idle();
  r = await admin.get('webhooks/retired?success=yes');
  assert.equal(ids(r.text, 'webhooks/retired').length, 1, 'the replay was delivered and retired');
  // Keyset pages of one over the two retired webhooks: newest (the replay) first.
  r = await admin.get('webhooks/retired?n=1');
  const p1 = ids(r.text, 'webhooks/retired');
  r = await admin.get(nextLink(r.text)!);
  const p2 = ids(r.text, 'webhooks/retired');
  assert.equal(p1.length, 1);
  assert.deepEqual(p2, [hid]);
  assert.ok(p1[0]! > hid);
  assert.equal(nextLink(r.text), undefined, 'no third page');
});

test('one message failed: a DSN to the sender, the retired record with the full history', async () => {
  const id = first!.id;
  const r = await admin.submit(`queue/${id}`, { op: 'fail' });
  assert.equal(r.status, 200);
  assert.match(r.text, new RegExp(`Retired message ${id}`));
  assert.match(r.text, /failed \(DSN sent to the sender\)/);
  assert.equal(ts.server.queue.get(id), undefined);
  assert.equal(ts.server.queue.getRetired(id)!.outcome, 'failed');
  const history = r.text.slice(r.text.indexOf('Delivery attempts'));
  assert.match(history, /<td>451<\/td>/, 'the earlier attempt');
  assert.match(history, /delivery canceled by admin/, 'and the admin failure');
  assert.ok(!r.text.includes(SCRIPT));
  const acc = ts.server.store.account('mjl');
  const inbox = acc.listMessages(acc.mailbox('Inbox')!.id);
  const texts = await Promise.all(inbox.map(async (m) => (await acc.readMessage(m.id)).toString()));
  assert.ok(texts.some((t) => /Action: failed/.test(t) && /bob@busy\.example/.test(t)), 'failure DSN delivered to the sender');
  // The queue detail of a retired message leads to its record.
  const again = await admin.get(`queue/${id}`);
  assert.equal(again.status, 303);
  assert.equal(again.headers.location, `/admin/retired/${id}`);
});

test('hold rules, keyset pagination, actions on the filtered selection, retired list pages', async () => {
  let r = await admin.submit('holdrules', { account: '', senderdomain: '', recipientdomain: 'page.example' });
  assert.equal(r.status, 200);
  const ruleMsg = /Hold rule (\d+) added; 0 queued messages now held\./.exec(r.text);
  assert.ok(ruleMsg, r.text);
  const ruleId = ruleMsg[1]!;
  assert.match(r.text, /<td>page\.example<\/td>/);
  r = await admin.post('holdrules', { recipientdomain: 'not a domain' });
  assert.equal(r.status, 400);
  assert.match(r.text, /is not a domain name/);
  r = await admin.post('holdrules', { account: 'nobody' });
  assert.equal(r.status, 400);
  assert.match(r.text, /No such account/);

  // Seven recipients in one submission: the same next attempt, so pages are cut by id.
  const msgs = await queue(['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7'].map((l) => `${l}@page.example`), 'paged');
  assert.ok(msgs.every((m) => m.hold), 'held by the rule');
  const seen: number[] = [];
  let path: string | undefined = 'queue?to=%40page.example&n=3';
  let pages = 0;
  while (path) {
    r = await admin.get(path);
    assert.equal(r.status, 200);
    const got = ids(r.text);
    assert.ok(got.length <= 3);
    seen.push(...got);
    pages++;
    path = nextLink(r.text);
    if (path) assert.match(path, /afterid=\d+&aftervalue=/);
  }
  assert.equal(pages, 3);
  assert.deepEqual(seen, msgs.map((m) => m.id), 'every message once, in order');
  // Descending, by submission time.
  r = await admin.get('queue?to=%40page.example&sort=queued&order=desc&n=4');
  const desc = ids(r.text);
  r = await admin.get(nextLink(r.text)!);
  assert.deepEqual([...desc, ...ids(r.text)], msgs.map((m) => m.id).reverse());

  // The filtered selection: without a filter, refused unless "every queued message" is ticked.
  r = await admin.post('queue', { op: 'hold' });
  assert.equal(r.status, 400);
  assert.match(r.text, /No filter is set/);
  r = await admin.submit('queue?to=%40page.example', { to: '@page.example', op: 'schedule', duration: '2h', mode: 'now' });
  assert.match(r.text, /7 messages rescheduled\./);
  assert.equal(ids(r.text).length, 7, 'back on the filtered list');
  r = await admin.submit('queue?to=%40page.example', { to: '@page.example', op: 'unhold' });
  assert.match(r.text, /7 messages released from hold\./);
  r = await admin.submit('queue?to=%40page.example', { to: '@page.example', op: 'hold' });
  assert.match(r.text, /7 messages held\./);
  r = await admin.submit('queue?to=%40page.example', { to: '@page.example', op: 'requiretls', setrequiretls: 'no' });
  assert.match(r.text, /7 messages given the RequireTLS setting\./);
  assert.ok(ts.server.queue.list({ to: '@page.example' }).every((m) => m.requireTLS === false));

  // Fail and drop ask for confirmation first, showing how many.
  const two = `${msgs[0]!.id},${msgs[1]!.id}`;
  r = await admin.post('queue', { ids: two, op: 'fail' });
  assert.equal(r.status, 200);
  assert.match(r.text, /fail \(each sender gets a failure DSN\) the 2 queued messages/);
  assert.equal(ts.server.queue.count({ to: '@page.example' }), 7, 'nothing changed yet');
  r = await admin.submit('queue', { ids: two, op: 'fail', confirm: '1' });
  assert.match(r.text, /2 messages failed/);
  r = await admin.submit('queue', { to: '@page.example', op: 'drop', confirm: '1' });
  assert.match(r.text, /5 messages dropped\./);
  assert.equal(ts.server.queue.count({ to: '@page.example' }), 0);

  // Retired: newest first, keyset pages of 3.
  const retiredSeen: number[] = [];
  path = 'retired?to=page.example&n=3';
  while (path) {
    r = await admin.get(path);
    retiredSeen.push(...ids(r.text, 'retired'));
    path = nextLink(r.text);
  }
  assert.deepEqual([...retiredSeen].sort((a, b) => a - b), msgs.map((m) => m.id));
  r = await admin.get('retired?success=no&to=page.example');
  assert.match(r.text, /canceled/);
  assert.match(r.text, /<td>failed<\/td>/);
  r = await admin.get(`retired/${msgs[6]!.id}`);
  assert.match(r.text, /<dt>Outcome<\/dt><dd>canceled<\/dd>/);

  // Remove the rule.
  r = await admin.submit('holdrules/remove', { id: ruleId });
  assert.match(r.text, new RegExp(`Hold rule ${ruleId} removed`));
  assert.doesNotMatch(r.text, /<td>page\.example<\/td>/);
  assert.deepEqual(ts.server.queue.listHoldRules(), []);
});
