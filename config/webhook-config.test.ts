import { test } from 'node:test';
import assert from 'node:assert/strict';
import { webhookFields, WebhookSettingsError } from './webhook-config.js';

test('webhookFields: valid settings become account fields; bad URL, events and headers refused with a message', () => {
  assert.deepEqual(webhookFields('outgoing', { url: ' https://app.example/h ', authorization: 'Bearer x', events: ['failed', 'complained', 'failed', ''] }), {
    OutgoingWebhook: { URL: 'https://app.example/h', Authorization: 'Bearer x', Events: ['failed', 'complained'] },
  });
  // No events: all (the key is left out); empty Authorization is left out.
  assert.deepEqual(webhookFields('incoming', { url: 'http://127.0.0.1:8025/in', authorization: '' }), { IncomingWebhook: { URL: 'http://127.0.0.1:8025/in' } });
  assert.deepEqual(webhookFields('outgoing', undefined), { OutgoingWebhook: undefined });
  const refused = (f: () => unknown, re: RegExp) => assert.throws(f, (e: unknown) => e instanceof WebhookSettingsError && re.test(e.message));
  refused(() => webhookFields('outgoing', { url: '' }), /URL is required/);
  refused(() => webhookFields('outgoing', { url: 'ftp://x.example/' }), /URL must be an http or https URL/);
  refused(() => webhookFields('outgoing', { url: 'javascript:alert(1)' }), /http or https/);
  refused(() => webhookFields('outgoing', { url: 'https://x.example/', events: ['delivered', 'exploded'] }), /unknown event "exploded"/);
  refused(() => webhookFields('incoming', { url: 'https://x.example/', events: ['delivered'] }), /no events/);
  refused(() => webhookFields('outgoing', { url: 'https://x.example/', authorization: 'Bearer a\r\nX-Evil: 1' }), /one line/);
});
