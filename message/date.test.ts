import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatRfc5322Date } from './date.js';

test('RFC 5322 dates in UTC', () => {
  assert.equal(formatRfc5322Date(new Date(Date.UTC(2026, 10, 21, 12, 5, 9))), 'Sat, 21 Nov 2026 12:05:09 +0000');
  assert.equal(formatRfc5322Date(new Date(Date.UTC(2024, 1, 29, 0, 0, 0))), 'Thu, 29 Feb 2024 00:00:00 +0000');
  // Round trip through Date.parse.
  const d = new Date(Date.UTC(2030, 0, 1, 23, 59, 59));
  assert.equal(Date.parse(formatRfc5322Date(d)), d.getTime());
});
