import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChangeBus, type Change } from './changes.js';

const add = (account: string, modseq: number): Change => ({ account, kind: 'add', modseq, mailboxId: 1, uids: [modseq], ids: [modseq] });

test('ordered delivery per account; throwing listener does not break others', () => {
  const bus = new ChangeBus();
  const a: number[] = [];
  const b: number[] = [];
  const other: number[] = [];
  bus.subscribe('x', () => {
    throw new Error('boom');
  });
  bus.subscribe('x', (c) => a.push(c.modseq));
  const unsub = bus.subscribe('x', (c) => b.push(c.modseq));
  bus.subscribe('y', (c) => other.push(c.modseq));
  bus.publish(add('x', 1), add('x', 2));
  unsub();
  bus.publish(add('x', 3), add('y', 4));
  assert.deepEqual(a, [1, 2, 3]);
  assert.deepEqual(b, [1, 2]);
  assert.deepEqual(other, [4]);
  assert.equal(bus.listenerCount('x'), 2);
});

test('publishing from a listener is queued behind the current event', () => {
  const bus = new ChangeBus();
  const seen: string[] = [];
  bus.subscribe('x', (c) => {
    seen.push(`l1:${c.modseq}`);
    if (c.modseq === 1) bus.publish(add('x', 3));
  });
  bus.subscribe('x', (c) => seen.push(`l2:${c.modseq}`));
  bus.publish(add('x', 1), add('x', 2));
  assert.deepEqual(seen, ['l1:1', 'l2:1', 'l1:2', 'l2:2', 'l1:3', 'l2:3']);
});
