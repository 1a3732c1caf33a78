import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration, formatDuration } from './duration.js';

test('parseDuration: Go units and combinations', () => {
  assert.equal(parseDuration('72h'), 72 * 3_600_000);
  assert.equal(parseDuration('7.5m'), 450_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('15s'), 15_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('.5s'), 500);
  assert.equal(parseDuration('1000us'), 1);
  assert.equal(parseDuration('1000µs'), 1);
  assert.equal(parseDuration('2000000ns'), 2);
  assert.equal(parseDuration('0'), 0);
  assert.equal(parseDuration('0s'), 0);
  assert.equal(parseDuration('-1m'), -60_000);
  assert.equal(parseDuration('+2h'), 7_200_000);
  assert.equal(parseDuration('1h1m1s'), 3_661_000);
});

test('parseDuration: refuses what Go refuses', () => {
  for (const bad of ['', '72', '1d', 'h', '1.h2', 'abc', '1h 30m', '-', '.s', '1hh', ' 1h']) {
    assert.throws(() => parseDuration(bad), /duration/, bad);
  }
  assert.throws(() => parseDuration('72'), /missing unit/);
});

test('formatDuration: compact round trip', () => {
  assert.equal(formatDuration(5_400_000), '1h30m');
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(450_000), '7m30s');
  assert.equal(formatDuration(250), '250ms');
  assert.equal(formatDuration(-60_000), '-1m');
  for (const s of ['72h', '7.5m', '1h30m', '15s', '1h0m1.5s']) {
    assert.equal(parseDuration(formatDuration(parseDuration(s))), parseDuration(s));
  }
});
