import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IndexDeferral } from './index-deferral.js';
import type { IndexPolicy } from './account-types.js';

/** Counts runs; `ran` resolves at the first. Keeps the process alive until then (the timer is unref'd). */
function counter(): { runs: number; ran: Promise<void>; run: () => void } {
  let resolve!: () => void;
  const keepAlive = setInterval(() => {}, 1000);
  const c = {
    runs: 0,
    ran: new Promise<void>((r) => (resolve = r)).finally(() => clearInterval(keepAlive)),
    run: () => {
      c.runs++;
      resolve();
    },
  };
  return c;
}

test('without a policy: one run shortly after the first additions, covering all of them', async () => {
  const c = counter();
  const d = new IndexDeferral(() => undefined, c.run);
  d.added(1);
  d.added(3);
  await c.ran;
  assert.equal(c.runs, 1);
  d.close();
});

test('a backlog of maxBacklog messages runs at once, whatever the idle time', async () => {
  const c = counter();
  const pol: IndexPolicy = { idleMs: 60_000, maxDelayMs: 60_000, maxBacklog: 10, sinceLastDelivery: () => 0 };
  const d = new IndexDeferral(() => pol, c.run);
  d.added(4);
  d.added(6);
  await c.ran;
  assert.equal(c.runs, 1);
  d.close();
});

test('while deliveries continue it waits; once idle long enough it runs', async () => {
  const c = counter();
  let asked = 0;
  const pol: IndexPolicy = {
    idleMs: 5,
    maxDelayMs: 60_000,
    maxBacklog: 1000,
    sinceLastDelivery: () => {
      asked++;
      // Busy for the first two checks, then idle.
      return asked <= 2 ? 0 : 1_000;
    },
  };
  const d = new IndexDeferral(() => pol, c.run);
  d.added(1);
  await c.ran;
  assert.equal(c.runs, 1);
  assert.ok(asked >= 3, 'checked again while deliveries were still coming');
  d.close();
});
