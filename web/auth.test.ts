import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthCache, AUTH_CACHE_TTL_MS, AUTH_RECORD_INTERVAL_MS } from './auth.js';

test('auth cache: same credentials and unchanged record only, expiry', () => {
  let now = 1000;
  const c = new AuthCache(() => now);
  c.set('mjl@example.com', 'secret', 'mjl', 'rec1');
  assert.equal(c.get('mjl@example.com', 'secret', 'rec1'), 'mjl');
  assert.equal(c.get('mjl@example.com', 'Secret', 'rec1'), undefined);
  assert.equal(c.get('mjl@example.co', 'msecret', 'rec1'), undefined);
  // Password changed: the stored record differs, the entry is dropped.
  assert.equal(c.get('mjl@example.com', 'secret', 'rec2'), undefined);
  assert.equal(c.get('mjl@example.com', 'secret', 'rec1'), undefined);
  c.set('mjl@example.com', 'secret', 'mjl', 'rec1');
  now += AUTH_CACHE_TTL_MS + 1;
  assert.equal(c.get('mjl@example.com', 'secret', 'rec1'), undefined);
});

test('auth cache: cached successes recorded at most once a minute per IP and login name', () => {
  let now = 0;
  const c = new AuthCache(() => now);
  assert.equal(c.shouldRecord('192.0.2.1', 'a@x'), true);
  assert.equal(c.shouldRecord('192.0.2.1', 'a@x'), false);
  assert.equal(c.shouldRecord('192.0.2.2', 'a@x'), true);
  assert.equal(c.shouldRecord('192.0.2.1', 'b@x'), true);
  now += AUTH_RECORD_INTERVAL_MS;
  assert.equal(c.shouldRecord('192.0.2.1', 'a@x'), true);
});
