import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipClasses, RateLimiter, ConcurrencyLimiter } from './ratelimit.js';

test('ip classes: /32 /26 /21 for IPv4, /64 /48 /32 for IPv6', () => {
  assert.deepEqual(ipClasses('192.0.2.77'), ['4:c000024d/32', '4:c0000240/26', '4:c0000000/21']);
  assert.deepEqual(ipClasses('::ffff:192.0.2.77'), ipClasses('192.0.2.77'));
  const [a1, a2, a3] = ipClasses('2001:db8:1:2:3:4:5:6');
  assert.equal(a1, '6:2001:db8:1:2/64');
  assert.equal(a2, '6:2001:db8:1/48');
  assert.equal(a3, '6:2001:db8/32');
  assert.equal(ipClasses('2001:db8:1:2::1')[0], ipClasses('2001:db8:1:2:ffff::9')[0], 'same /64');
  assert.equal(ipClasses('::1')[0], '6:0:0:0:0/64');
});

test('rate limiter: per class maximums in fixed windows', () => {
  let now = 1_000_000;
  const l = new RateLimiter([{ windowMs: 60_000, max: [2, 3, 4] }], () => now);
  assert.ok(l.add('192.0.2.1'));
  assert.ok(l.add('192.0.2.1'));
  assert.equal(l.add('192.0.2.1'), false, 'class 1 full');
  assert.ok(l.add('192.0.2.2'), 'same /26, class 2 has room');
  assert.equal(l.add('192.0.2.3'), false, 'class 2 (/26) full');
  assert.ok(l.add('192.0.2.200'), 'other /26, same /21');
  assert.equal(l.add('192.0.3.1'), false, 'class 3 (/21) full');
  now += 60_000;
  assert.ok(l.add('192.0.2.1'), 'new window');
  assert.equal(l.add('192.0.9.9', 5), false, 'n larger than max');
});

test('rate limiter: reset and several windows', () => {
  let now = 0;
  const l = new RateLimiter([{ windowMs: 1000, max: [1, 10, 10] }, { windowMs: 10_000, max: [2, 10, 10] }], () => now);
  assert.ok(l.add('10.0.0.1'));
  now = 1000;
  assert.ok(l.add('10.0.0.1'));
  now = 2000;
  assert.equal(l.add('10.0.0.1'), false, 'long window full');
  l.reset('10.0.0.1');
  assert.ok(l.add('10.0.0.1'));
});

test('rate limiter: reset also frees the network classes', () => {
  const l = new RateLimiter([{ windowMs: 60_000, max: [5, 5, 5] }], () => 0);
  for (let i = 0; i < 4; i++) assert.ok(l.add('10.0.0.1'));
  assert.ok(l.add('10.0.0.2'));
  assert.equal(l.add('10.0.0.3'), false, '/26 full');
  l.reset('10.0.0.1');
  assert.ok(l.add('10.0.0.3'), "the reset IP's counts left the /26 total");
});

test('concurrency limiter releases once', () => {
  const c = new ConcurrencyLimiter([2, 3, 3]);
  const r1 = c.acquire('10.0.0.1')!;
  const r2 = c.acquire('10.0.0.1')!;
  assert.equal(c.acquire('10.0.0.1'), undefined);
  r1();
  r1();
  assert.ok(c.acquire('10.0.0.1'));
  assert.ok(r2);
});
