import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { signature, signatureHeader, verifyWebhook, WebhookVerificationError } from './sign.js';
import { newSigningSecret } from './store.js';

// The example of the Standard Webhooks specification and reference libraries (secret, id, timestamp, body → signature).
test('signature matches the Standard Webhooks reference vector', () => {
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const expected = createHmac('sha256', Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64')).update('msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}').digest('base64');
  assert.equal(signature(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}'), `v1,${expected}`);
  assert.equal(expected, 'g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
});

test('verifyWebhook: valid, rotated, tampered, stale, future, wrong secret, missing headers', () => {
  const a = newSigningSecret();
  const b = newSigningSecret();
  const body = '{"Version":0}';
  const now = 1_800_000_000_000;
  const ts = now / 1000;
  const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(ts), 'webhook-signature': signatureHeader([a], 'msg_1', ts, body) };
  verifyWebhook(a, headers, body, { now });
  verifyWebhook(a, headers, Buffer.from(body), { now });
  const both = { ...headers, 'webhook-signature': signatureHeader([b, a], 'msg_1', ts, body) };
  verifyWebhook(a, both, body, { now });
  verifyWebhook(b, both, body, { now });
  assert.throws(() => verifyWebhook(a, headers, body + ' ', { now }), /no matching signature/);
  assert.throws(() => verifyWebhook(b, headers, body, { now }), /no matching signature/);
  assert.throws(() => verifyWebhook(a, headers, body, { now: now + 301_000 }), /timestamp/);
  assert.throws(() => verifyWebhook(a, headers, body, { now: now - 301_000 }), /timestamp/);
  verifyWebhook(a, headers, body, { now: now + 299_000 });
  assert.throws(() => verifyWebhook(a, { ...headers, 'webhook-id': 'msg_2' }, body, { now }), WebhookVerificationError);
  assert.throws(() => verifyWebhook(a, { ...headers, 'webhook-id': undefined }, body, { now }), /missing/);
  assert.throws(() => verifyWebhook(a, { ...headers, 'webhook-signature': 'v2,abc' }, body, { now }), /no matching/);
});

test("the README's verify snippet accepts our signatures and rejects tampered or stale ones", () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const block = /```js\n([\s\S]*?function verify[\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block, 'README has the verify snippet');
  const code = block.replace(/^import .*$/m, '');
  const verify = new Function('createHmac', 'timingSafeEqual', `${code}; return verify;`)(createHmac, timingSafeEqual) as (s: string, h: Record<string, string>, b: Buffer) => void;
  const secret = newSigningSecret();
  const body = Buffer.from('{"Version":0,"Event":"delivered"}');
  const ts = Math.floor(Date.now() / 1000);
  const h = { 'webhook-id': 'msg_x', 'webhook-timestamp': String(ts), 'webhook-signature': signatureHeader([secret], 'msg_x', ts, body) };
  verify(secret, h, body);
  assert.throws(() => verify(secret, h, Buffer.from('{"Version":0,"Event":"failed"}')), /bad signature/);
  assert.throws(() => verify(secret, { ...h, 'webhook-timestamp': String(ts - 600) }, body), /stale/);
  assert.throws(() => verify(newSigningSecret(), h, body), /bad signature/);
});
