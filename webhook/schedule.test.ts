import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextAttemptAt, parseRetryAfter, MAX_ATTEMPTS, RETRY_INTERVALS_MS, MAX_RETRY_AFTER_MS } from './schedule.js';

test("mox's schedule: 12 attempts, waits 1m … 16h, ±1% jitter", () => {
  assert.equal(MAX_ATTEMPTS, 12);
  assert.deepEqual(
    RETRY_INTERVALS_MS.map((m) => m / 60_000),
    [1, 2, 4, 7.5, 15, 30, 60, 120, 240, 480, 960],
  );
  for (let n = 1; n < MAX_ATTEMPTS; n++) {
    const base = RETRY_INTERVALS_MS[n - 1]!;
    assert.equal(nextAttemptAt(0, n, () => 0.5), base);
    assert.equal(nextAttemptAt(0, n, () => 0), base * 0.99);
    assert.ok(Math.abs(nextAttemptAt(0, n, () => 0.999999)! - base * 1.01) <= base * 1e-6 + 1);
  }
  assert.equal(nextAttemptAt(0, 12, () => 0.5), null);
});

test('Retry-After only pushes later, capped; seconds and HTTP dates', () => {
  assert.equal(nextAttemptAt(0, 1, () => 0.5, 5_000), 60_000);
  assert.equal(nextAttemptAt(0, 1, () => 0.5, 600_000), 600_000);
  assert.equal(nextAttemptAt(0, 1, () => 0.5, 10 * MAX_RETRY_AFTER_MS), MAX_RETRY_AFTER_MS);
  const now = Date.UTC(2026, 10, 21, 12, 0, 0);
  assert.equal(parseRetryAfter('120', now), 120_000);
  assert.equal(parseRetryAfter('Sat, 21 Nov 2026 12:05:00 GMT', now), 300_000);
  assert.equal(parseRetryAfter('Sat, 21 Nov 2026 11:00:00 GMT', now), 0);
  assert.equal(parseRetryAfter('soon', now), undefined);
  assert.equal(parseRetryAfter(undefined, now), undefined);
  assert.equal(parseRetryAfter(['30', '40'], now), 30_000);
});
