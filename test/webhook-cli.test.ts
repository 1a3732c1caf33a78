/**
 * `moxts queue webhook ...` against a running server (over the ctl socket): list, print, schedule,
 * cancel, retired list/print, replay (same webhook-id, new hook), test (a signed example POST with
 * status and response printed) and secret.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startTestServer } from './helpers/server.js';
import { runMoxts } from './helpers/cli.js';
import { WebhookReceiver } from './helpers/webhook-receiver.js';
import { recordEvent } from '../queue/events.js';
import { verifyWebhook } from '../webhook/sign.js';

test('queue webhook list/print/schedule/cancel/retired/replay/test/secret over ctl', async () => {
  const rx = await WebhookReceiver.start();
  rx.respond = () => ({ status: 503, body: 'down for maintenance' });
  const ts = await startTestServer({
    accounts: {
      mjl: {
        Domain: 'example.com',
        Destinations: { 'mjl@example.com': {} },
        KeepRetiredWebhookPeriod: '24h',
        OutgoingWebhook: { URL: `${rx.url}/out`, Authorization: 'Bearer t' },
        IncomingWebhook: { URL: `${rx.url}/in` },
      },
    },
  });
  const cli = (...args: string[]) => runMoxts(['--config', join(ts.dir, 'mox.conf'), 'queue', 'webhook', ...args]);
  try {
    const now = new Date();
    recordEvent(ts.server.queue.db, { account: 'mjl', event: 'delayed', queueMsgId: 11, subject: 's11' }, now);
    recordEvent(ts.server.queue.db, { account: 'mjl', event: 'failed', queueMsgId: 12, subject: 's12' }, now);
    ts.server.webhooks.worker.kick();
    await rx.waitFor(2);
    await ts.server.webhooks.worker.idle();

    let r = await cli('list');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 2);
    assert.match(r.stdout, /mjl {2}delayed {2}queuemsg 11 {2}http:\/\/127\.0\.0\.1:\d+\/out {2}attempts 1 {2}next \S+ {2}last: 503 http status 503, expected 200/);
    r = await cli('list', '--event', 'failed', '--json');
    const listed = JSON.parse(r.stdout) as Array<{ id: number; queueMsgId: number; hasAuthorization: boolean; authorization?: string }>;
    assert.deepEqual(
      listed.map((h) => h.queueMsgId),
      [12],
    );
    assert.equal(listed[0]!.hasAuthorization, true);
    assert.equal(listed[0]!.authorization, undefined, 'the Authorization value is not printed');
    r = await cli('list', '--event', 'bogus');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unknown event "bogus"/);

    const id = listed[0]!.id;
    r = await cli('print', String(id));
    const printed = JSON.parse(r.stdout) as { results: Array<{ code: number; response: string }>; payload: string };
    assert.equal(printed.results[0]!.code, 503);
    assert.equal(printed.results[0]!.response, 'down for maintenance');
    assert.equal(JSON.parse(printed.payload).Subject, 's12');

    // schedule needs a filter; --now 0s makes it due at once.
    r = await cli('schedule', '0s');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /needs a filter/);
    rx.respond = () => ({ status: 200 });
    r = await cli('schedule', '--ids', String(id), '--now', '0s');
    assert.equal(r.stdout, '1 webhook(s) rescheduled\n');
    await rx.waitFor(3);
    await ts.server.webhooks.worker.idle();
    assert.equal(rx.requests[2]!.headers['x-mox-webhook-attempt'], '2');

    r = await cli('cancel', '--event', 'delayed');
    assert.equal(r.stdout, '1 webhook(s) canceled\n');
    r = await cli('list');
    assert.equal(r.stdout, 'no queued webhooks (for this filter)\n');

    r = await cli('retired', 'list', '--success', 'no', '--json');
    const canceled = JSON.parse(r.stdout) as Array<{ id: number; results: Array<{ error: string }>; webhookId: string }>;
    assert.equal(canceled.length, 1);
    assert.equal(canceled[0]!.results.at(-1)!.error, 'canceled by admin');
    r = await cli('retired', 'list');
    assert.equal(r.stdout.trim().split('\n').length, 2);
    r = await cli('retired', 'print', String(id));
    assert.equal((JSON.parse(r.stdout) as { success: boolean }).success, true);

    // Replay: a new hook, same payload and webhook-id.
    r = await cli('replay', String(canceled[0]!.id));
    assert.match(r.stdout, /queued again as webhook \d+/);
    await rx.waitFor(4);
    const replayed = rx.requests[3]!;
    assert.equal(replayed.headers['webhook-id'], canceled[0]!.webhookId);
    assert.equal(JSON.parse(replayed.body).QueueMsgID, 11);
    assert.equal(replayed.headers['authorization'], 'Bearer t');

    // Test: an example payload to the configured URL, signed with the account's secret.
    r = await cli('secret', 'mjl');
    const secret = r.stdout.trim();
    assert.match(secret, /^whsec_/);
    r = await cli('test', 'mjl', 'incoming');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^POST http:\/\/127\.0\.0\.1:\d+\/in\n/);
    assert.match(r.stdout, /\nstatus: 200\nresponse: ok\nerror: \(none\)\n/);
    const t = rx.requests.at(-1)!;
    assert.equal(t.path, '/in');
    assert.equal(JSON.parse(t.body).Meta.MailboxName, 'Inbox');
    verifyWebhook(secret, t.headers, t.body);
    rx.respond = () => ({ status: 201, body: 'created' });
    r = await cli('test', 'mjl');
    assert.equal(r.code, 1);
    assert.match(r.stdout, /status: 201\nresponse: created\nerror: http status 201, expected 200/);

    // Rotation: the new secret signs, the old one still verifies during the overlap.
    r = await cli('secret', 'mjl', '--rotate');
    const [fresh, prev] = r.stdout.trim().split('\n');
    assert.notEqual(fresh, secret);
    assert.equal(prev, `previous (still signing): ${secret}`);
    rx.respond = () => ({ status: 200 });
    await cli('test', 'mjl');
    const rotated = rx.requests.at(-1)!;
    assert.equal(String(rotated.headers['webhook-signature']).split(' ').length, 2);
    verifyWebhook(fresh!, rotated.headers, rotated.body);
    verifyWebhook(secret, rotated.headers, rotated.body);
  } finally {
    await ts.stop();
    await rx.close();
  }
});
