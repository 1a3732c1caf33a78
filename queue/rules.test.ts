import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { baseAddress, shouldSuppress, holdRuleMatches, backoffMs, BACKOFF_BASE_MS, parseRelativeFilter } from './rules.js';
import { parseDuration } from '../config/duration.js';

test('base address: cut at + then -, drop dots, lower-case', () => {
  assert.equal(baseAddress('John.Doe-x+y@Ex.com'), 'johndoe@ex.com');
  assert.equal(baseAddress('a+b-c@x.example'), 'a@x.example');
  assert.equal(baseAddress('a-b+c@x.example'), 'a@x.example');
  assert.equal(baseAddress('plain@example.com'), 'plain@example.com');
  fc.assert(
    fc.property(fc.emailAddress(), (a) => {
      const b = baseAddress(a);
      assert.equal(baseAddress(b), b, 'idempotent');
      assert.ok(!/[.+A-Z]/.test(b.split('@')[0]!));
    }),
    { numRuns: 1000 },
  );
});

test('suppression: immediate codes, enhanced codes, three strikes', () => {
  for (const c of [521, 550, 551, 553, 556]) assert.ok(shouldSuppress(c, undefined, []), String(c));
  for (const e of ['5.1.1', '5.1.2', '5.1.3', '5.1.6', '5.2.1', '5.7.1']) assert.ok(shouldSuppress(554, e, []), e);
  assert.equal(shouldSuppress(554, '5.6.0', []), false);
  assert.equal(shouldSuppress(552, '5.2.2', [false]), false, 'two failures are not enough');
  assert.ok(shouldSuppress(552, '5.2.2', [false, false]), 'third consecutive failure');
  assert.equal(shouldSuppress(552, '5.2.2', [false, true, false]), false, 'not consecutive');
  assert.equal(shouldSuppress(451, '4.1.1', [false, false]), false, 'temporary failures never suppress');
  assert.equal(shouldSuppress(undefined, undefined, [false, false]), false);
});

test('hold rules: every non-empty field must match; empty rule holds all', () => {
  const m = { account: 'mjl', senderDomain: 'Example.com', recipientDomain: 'gmail.com' };
  assert.ok(holdRuleMatches({ account: '', senderDomain: '', recipientDomain: '' }, m));
  assert.ok(holdRuleMatches({ account: 'mjl', senderDomain: '', recipientDomain: '' }, m));
  assert.ok(holdRuleMatches({ account: 'mjl', senderDomain: 'example.com', recipientDomain: 'gmail.com' }, m));
  assert.equal(holdRuleMatches({ account: 'mjl', senderDomain: '', recipientDomain: 'yahoo.com' }, m), false);
  assert.equal(holdRuleMatches({ account: 'other', senderDomain: '', recipientDomain: '' }, m), false);
});

test('backoff doubles from 7.5 minutes with bounded jitter', () => {
  const mid = () => 0.5;
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map((a) => backoffMs(a, mid) / 60_000), [7.5, 15, 30, 60, 120, 240, 480]);
  const lo = backoffMs(1, () => 0);
  const hi = backoffMs(1, () => 0.999999);
  assert.ok(lo >= BACKOFF_BASE_MS - 5000 && hi <= BACKOFF_BASE_MS + 5000);
});

test('relative time filters', () => {
  assert.deepEqual(parseRelativeFilter('<1h', parseDuration), { op: '<', ms: 3_600_000 });
  assert.deepEqual(parseRelativeFilter('> 30m', parseDuration), { op: '>', ms: 1_800_000 });
  assert.deepEqual(parseRelativeFilter('<now', parseDuration), { op: '<', ms: 0 });
  assert.throws(() => parseRelativeFilter('1h', parseDuration), /expected/);
});
