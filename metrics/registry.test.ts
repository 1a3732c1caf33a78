import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics } from './registry.js';

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
