import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics, webhookResult } from './registry.js';

test('metrics objects are independent and render counters', async () => {
  const a = new Metrics();
  const b = new Metrics();
  a.smtpMessages.inc({ service: 'smtp', result: 'accepted' });
  a.smtpMessages.inc({ service: 'smtp', result: 'accepted' });
  b.smtpMessages.inc({ service: 'smtp', result: 'dmarc-reject' });
  const ta = await a.text();
  assert.match(ta, /moxts_smtp_messages_total\{service="smtp",result="accepted"\} 2/);
  assert.doesNotMatch(ta, /dmarc-reject/);
  assert.match(await b.text(), /result="dmarc-reject"\} 1/);
});

test('queue gauges are read at scrape time from the injected counts', async () => {
  const m = new Metrics();
  assert.match(await m.text(), /^moxts_queue_messages 0$/m);
  let size = 3;
  let fail = false;
  m.setQueueCounts({
    webhooks: () => 7,
    size: () => size,
    held: () => {
      if (fail) throw new Error('database closed');
      return 1;
    },
  });
  let t = await m.text();
  assert.match(t, /^moxts_queue_messages 3$/m);
  assert.match(t, /^moxts_queue_held_messages 1$/m);
  assert.match(t, /^moxts_webhook_queue_messages 7$/m);
  size = 5;
  fail = true; // a failing count keeps the last value, the scrape still works
  t = await m.text();
  assert.match(t, /^moxts_queue_messages 5$/m);
  assert.match(t, /^moxts_queue_held_messages 1$/m);
});

test('webhook requests are counted by result class with their duration', async () => {
  assert.deepEqual([200, 204, 302, 404, 503, 0, 999].map(webhookResult), ['ok', 'http-2xx', 'http-3xx', 'http-4xx', 'http-5xx', 'error', 'http-other']);
  const m = new Metrics();
  m.webhookRequest(200, 12);
  m.webhookRequest(200, 3);
  m.webhookRequest(500, 40);
  m.webhookRequest(0, 60_000);
  const t = await m.text();
  assert.match(t, /^moxts_webhook_requests_total\{result="ok"\} 2$/m);
  assert.match(t, /^moxts_webhook_requests_total\{result="http-5xx"\} 1$/m);
  assert.match(t, /^moxts_webhook_requests_total\{result="error"\} 1$/m);
  assert.match(t, /^moxts_webhook_request_duration_seconds_count 4$/m);
  assert.match(t, /^moxts_webhook_request_duration_seconds_bucket\{le="0.005"\} 1$/m);
});

test('every metric has a help text and the moxts_ prefix; default process metrics only when asked', async () => {
  const m = new Metrics();
  const names = (await m.registry.getMetricsAsJSON()).map((x) => x.name);
  for (const n of names) assert.match(n, /^moxts_[a-z_]+$/);
  assert.ok(!names.includes('moxts_process_cpu_seconds_total'));
  for (const x of await m.registry.getMetricsAsJSON()) assert.ok(x.help.length > 10, x.name);
  const d = new Metrics({ defaultMetrics: true });
  assert.match(await d.text(), /moxts_process_cpu_seconds_total/);
});
