/**
 * `moxts queue ...` end to end: with no server (direct on queue.db) and through a running server's
 * ctl socket; list with filters and pagination, hold/unhold, schedule, transport, requiretls,
 * hold rules, drop into retired messages, dump, suppression list.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMoxts, startMoxts } from './helpers/cli.js';
import { writeTestConfig } from './helpers/server.js';
import { QueueStore } from '../queue/store.js';
import { Store } from '../store/index.js';
import { nullLogger } from '../log/logger.js';

async function seed(dataDir: string): Promise<number[]> {
  const q = await QueueStore.open({ dataDir, log: nullLogger() });
  try {
    const ids: number[] = [];
    for (const [lp, dom] of [['a', 'gmail.example'], ['b', 'gmail.example'], ['c', 'yahoo.example']] as const) {
      const [m] = await q.add({
        account: 'mjl',
        mailFrom: { localpart: 'mjl', domain: 'example.com' },
        recipients: [{ localpart: lp, domain: dom }],
        message: Buffer.from(`From: <mjl@example.com>\r\nTo: <${lp}@${dom}>\r\nSubject: to ${lp}\r\n\r\nbody ${lp}\r\n`),
        subject: `to ${lp}`,
        // Not due while the test runs: the running server's scheduler must not try to deliver
        // (it would resolve these domains with the system resolver).
        futureRelease: { at: new Date(Date.now() + 86_400_000), request: 'for;86400' },
      });
      ids.push(m!.id);
    }
    return ids;
  } finally {
    await q.close();
  }
}

test('queue commands, directly and through the running server', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moxts-qcli-'));
  await writeTestConfig(dir, { accounts: { mjl: { Domain: 'example.com', Destinations: { 'mjl@example.com': {} }, KeepRetiredMessagePeriod: '24h' } } });
  const ids = await seed(join(dir, 'data'));
  const conf = ['--config', join(dir, 'mox.conf')];
  const q = (...args: string[]) => runMoxts([...conf, 'queue', ...args]);

  // Direct (no server).
  let r = await q('list');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').length, 3);
  assert.match(r.stdout, /mjl@example\.com -> a@gmail\.example {2}attempts 0\/8/);
  r = await q('list', '--to', '@yahoo.example', '--json');
  assert.deepEqual((JSON.parse(r.stdout) as Array<{ id: number }>).map((m) => m.id), [ids[2]]);
  r = await q('hold');
  assert.equal(r.code, 1, 'a filter or --all is required');
  assert.match(r.stderr, /needs a filter/);
  r = await q('hold', '--to', '@gmail.example');
  assert.match(r.stdout, /^2 message\(s\) held/);
  r = await q('list', '--hold', '--json');
  assert.equal(JSON.parse(r.stdout).length, 2);
  r = await q('list', '--no-hold', '--json');
  assert.equal(JSON.parse(r.stdout).length, 1);
  r = await q('dump', String(ids[0]));
  assert.equal(r.stdout, 'From: <mjl@example.com>\r\nTo: <a@gmail.example>\r\nSubject: to a\r\n\r\nbody a\r\n');

  // Through the server (ctl).
  const srv = startMoxts([...conf, 'serve']);
  try {
    await srv.waitFor(/moxts serving/);
    r = await q('unhold', '--ids', String(ids[0]));
    assert.match(r.stdout, /^1 message\(s\) released/);
    r = await q('schedule', '--all', '2h');
    assert.match(r.stdout, /^3 message\(s\) rescheduled/);
    r = await q('list', '--nextattempt', '>1h', '--json');
    assert.equal(JSON.parse(r.stdout).length, 3);
    r = await q('transport', '--ids', String(ids[1]), 'smarthost');
    assert.match(r.stdout, /^1 message/);
    r = await q('list', '--transport', 'smarthost', '--json');
    assert.equal(JSON.parse(r.stdout)[0].id, ids[1]);
    r = await q('requiretls', '--all', 'maybe');
    assert.equal(r.code, 1);
    r = await q('requiretls', '--all', 'yes');
    assert.match(r.stdout, /^3 message/);
    // Pagination: two pages of two in queued order.
    r = await q('list', '--sort', 'queued', '--n', '2', '--json');
    const page1 = JSON.parse(r.stdout) as Array<{ id: number; queued: string }>;
    r = await q('list', '--sort', 'queued', '--n', '2', '--after-id', String(page1[1]!.id), '--after-value', page1[1]!.queued, '--json');
    const page2 = JSON.parse(r.stdout) as Array<{ id: number }>;
    assert.deepEqual([...page1, ...page2].map((m) => m.id), ids);

    r = await q('holdrules', 'add', '--recipientdom', 'yahoo.example');
    assert.match(r.stdout, /hold rule \d+ added; 1 queued message\(s\) now held/);
    r = await q('holdrules', 'list');
    assert.match(r.stdout, /account \* {2}senderdomain \* {2}recipientdomain yahoo\.example/);
    const ruleId = /^(\d+)/.exec(r.stdout)![1]!;
    assert.equal((await q('holdrules', 'remove', ruleId)).code, 0);
    assert.match((await q('holdrules', 'list')).stdout, /no hold rules/);

    r = await q('drop', '--to', 'b@');
    assert.match(r.stdout, /^1 message\(s\) dropped/);
    r = await q('retired', 'list', '--json');
    const retired = JSON.parse(r.stdout) as Array<{ id: number; outcome: string; results: Array<{ error: string }> }>;
    assert.equal(retired.length, 1);
    assert.equal(retired[0]!.outcome, 'canceled');
    assert.equal(retired[0]!.results.at(-1)!.error, 'delivery canceled by admin');
    r = await q('retired', 'print', String(retired[0]!.id));
    assert.equal(JSON.parse(r.stdout).recipientAddress, 'b@gmail.example');

    // fail: retired as failed, and the sender (a local account) gets a failure DSN in its Inbox.
  r = await q('fail', '--to', 'a@gmail');
  assert.match(r.stdout, /^1 message\(s\) failed/);
  r = await q('retired', 'list', '--json');
  assert.equal((JSON.parse(r.stdout) as Array<{ outcome: string }>).filter((m) => m.outcome === 'failed').length, 1);

  r = await q('suppress', 'add', 'mjl', 'John.Doe+x@Example.org', '--reason', 'unsubscribed');
    assert.match(r.stdout, /suppressed for mjl/);
    r = await q('suppress', 'lookup', 'mjl', 'johndoe@example.org');
    assert.match(r.stdout, /suppressed as johndoe@example\.org: unsubscribed/);
    r = await q('suppress', 'list');
    assert.match(r.stdout, /mjl {2}johndoe@example\.org {2}\(John\.Doe\+x@Example\.org\) {2}manual/);
    assert.equal((await q('suppress', 'remove', 'mjl', 'johndoe@example.org')).code, 0);
    r = await q('suppress', 'lookup', 'mjl', 'johndoe@example.org');
    assert.equal(r.code, 1);
    assert.match(r.stdout, /not suppressed/);

    assert.equal((await runMoxts([...conf, 'stop'])).code, 0);
    assert.deepEqual(await srv.exited, { code: 0, signal: null });
  } finally {
    // On a failed assertion, don't leave the server running (the test would never end).
    if (srv.child.exitCode === null) srv.child.kill('SIGKILL');
  }
  // The server's changes are on disk: the direct path sees them.
  r = await q('list', '--json');
  assert.equal(JSON.parse(r.stdout).length, 1);
  // The failure DSN is in mjl's Inbox, a multipart/report for a@gmail.example.
  const store = await Store.open({ dataDir: join(dir, 'data'), log: nullLogger() });
  try {
    const acc = store.account('mjl');
    const msgs = acc.listMessages(acc.mailbox('Inbox')!.id);
    assert.equal(msgs.length, 1);
    const dsn = (await acc.readMessage(msgs[0]!.id)).toString();
    assert.match(dsn, /Content-Type: multipart\/report;[^]*report-type=delivery-status/i);
    assert.match(dsn, /Final-Recipient: rfc822; ?a@gmail\.example/i);
    assert.match(dsn, /Action: failed/i);
    assert.match(dsn, /Subject: to a/, 'original headers returned');
  } finally {
    await store.close();
  }
  rmSync(dir, { recursive: true, force: true });
});
