import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueStore } from './store.js';
import { Submitter, SubmitError, canonicalHeaderKey, futureReleaseAt, senderAllowed, type SubmitRequest } from './submit.js';
import { testConfig } from '../config/testconfig.js';
import type { DynamicConfigInput } from '../config/dynamic-schema.js';

let now = Date.UTC(2026, 10, 21, 12, 0, 0);
const clock = () => new Date(now);

async function withSubmitter(dynamic: Partial<DynamicConfigInput>, fn: (s: Submitter, q: QueueStore, dir: string) => Promise<void>): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'moxts-submit-'));
  const cfg = testConfig({ dataDir, dynamic });
  const q = await QueueStore.open({ dataDir, clock });
  const s = new Submitter({ config: () => cfg, queue: q, tmpDir: dataDir, clock });
  try {
    await fn(s, q, dataDir);
  } finally {
    await q.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const MSG = 'From: Mjl <mjl@example.com>\r\nTo: <a@remote.example>\r\nSubject: hi\r\n\r\nhello\r\n';

function req(over: Partial<SubmitRequest> = {}): SubmitRequest {
  return {
    account: 'mjl',
    loginAddress: 'mjl@example.com',
    mailFrom: { localpart: 'mjl', domain: 'example.com' },
    recipients: [{ localpart: 'a', domain: 'remote.example' }],
    message: Buffer.from(MSG),
    ...over,
  };
}

const accounts = (extra: Record<string, unknown> = {}): Partial<DynamicConfigInput> => ({
  Domains: {
    'example.com': {
      LocalpartCatchallSeparator: '+',
      Aliases: { team: { Addresses: ['mjl@example.com'], AllowMsgFrom: true }, list: { Addresses: ['mjl@example.com'] } },
    },
    'other.example': {},
  },
  Accounts: {
    mjl: { Domain: 'example.com', Destinations: { 'mjl@example.com': {}, '@other.example': {} }, ...extra },
    bob: { Domain: 'example.com', Destinations: { 'bob@example.com': {} } },
  },
});

async function rejects(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof SubmitError && e.code === code);
}

test('sender ownership: own addresses, catchall variants, catchall domains, aliases with AllowMsgFrom', () => {
  const cfg = testConfig({ dataDir: '/nonexistent', dynamic: accounts() }).dynamic;
  assert.deepEqual(senderAllowed(cfg, 'mjl', 'mjl@example.com'), { ok: true });
  assert.deepEqual(senderAllowed(cfg, 'mjl', 'MJL+tag@Example.com'), { ok: true });
  assert.deepEqual(senderAllowed(cfg, 'mjl', 'anything@other.example'), { ok: true });
  assert.deepEqual(senderAllowed(cfg, 'mjl', 'team@example.com'), { ok: true });
  assert.equal(senderAllowed(cfg, 'mjl', 'list@example.com').ok, false, 'alias without AllowMsgFrom');
  assert.equal(senderAllowed(cfg, 'mjl', 'bob@example.com').ok, false);
  assert.equal(senderAllowed(cfg, 'bob', 'team@example.com').ok, false, 'not a member');
  assert.equal(senderAllowed(cfg, 'mjl', 'x@unknown.example').ok, false);
});

test('submit: queued durably with Message-ID and Date added, MAIL FROM and From checked', async () => {
  await withSubmitter(accounts(), async (s, q) => {
    const r = await s.submit(req({ recipients: [{ localpart: 'a', domain: 'remote.example', notify: ['FAILURE'], orcpt: 'rfc822;a@remote.example' }, { localpart: 'b', domain: 'remote.example' }], envid: 'env1', ret: 'HDRS' }));
    assert.equal(r.queued.length, 2);
    assert.match(r.messageId, /^<[A-Za-z0-9_-]+@mail\.example\.com>$/);
    const m = q.get(r.queued[0]!.id)!;
    assert.equal(m.messageId, r.messageId);
    assert.equal(m.subject, 'hi');
    assert.deepEqual(m.dsn, { notify: ['FAILURE'], orcpt: 'rfc822;a@remote.example', envid: 'env1', ret: 'HDRS' });
    const bytes = (await q.messageBytes(m.id)).toString();
    assert.ok(bytes.includes(`Message-ID: ${r.messageId}\r\n`));
    assert.ok(bytes.includes('Date: Sat, 21 Nov 2026 12:00:00 +0000\r\n'));
    assert.ok(bytes.endsWith(MSG));

    // Existing Message-ID and Date are kept.
    const withId = 'Message-ID: <x@y>\r\nDate: Fri, 20 Nov 2026 10:00:00 +0000\r\n' + MSG;
    const r2 = await s.submit(req({ message: Buffer.from(withId) }));
    assert.equal(r2.messageId, '<x@y>');
    assert.equal((await q.messageBytes(r2.queued[0]!.id)).toString(), withId);

    await rejects(s.submit(req({ mailFrom: { localpart: 'bob', domain: 'example.com' } })), 'notAllowed');
    await rejects(s.submit(req({ message: Buffer.from(MSG.replace('mjl@example.com', 'bob@example.com')) })), 'notAllowed');
    await rejects(s.submit(req({ message: Buffer.from('Subject: x\r\n\r\nbody\r\n') })), 'malformedMessage');
    const viaAlias = await s.submit(req({ message: Buffer.from(`From: <team@example.com>\r\n\r\nbody\r\n`), mailFrom: { localpart: 'team', domain: 'example.com' } }));
    assert.equal(viaAlias.queued[0]!.senderLocalpart, 'team', 'alias with AllowMsgFrom');
  });
});

test('submit: X-Mox-Extra headers become Extra and are removed; duplicates refused', async () => {
  assert.equal(canonicalHeaderKey('x-mox-extra-my-KEY'), 'X-Mox-Extra-My-Key');
  await withSubmitter(accounts(), async (s, q) => {
    const msg = 'X-Mox-Extra-Customer-Id: 123\r\nx-mox-extra-other: two words\r\n' + MSG;
    const r = await s.submit(req({ message: Buffer.from(msg), extraFromHeaders: true }));
    const m = q.get(r.queued[0]!.id)!;
    assert.deepEqual(m.extra, { 'Customer-Id': '123', Other: 'two words' });
    const bytes = (await q.messageBytes(m.id)).toString();
    assert.ok(!/x-mox-extra/i.test(bytes), bytes);
    assert.ok(bytes.endsWith(MSG));
    await rejects(s.submit(req({ message: Buffer.from('X-Mox-Extra-A: 1\r\nx-mox-extra-a: 2\r\n' + MSG), extraFromHeaders: true })), 'duplicateExtra');
    // Spilled (file) messages are rewritten too.
    const dir = mkdtempSync(join(tmpdir(), 'moxts-submit-f-'));
    try {
      const path = join(dir, 'm');
      writeFileSync(path, msg);
      const r2 = await s.submit(req({ message: { path, size: Buffer.byteLength(msg) }, extraFromHeaders: true }));
      const b2 = (await q.messageBytes(r2.queued[0]!.id)).toString();
      assert.ok(!/x-mox-extra/i.test(b2) && b2.endsWith(MSG));
      assert.deepEqual(q.get(r2.queued[0]!.id)!.extra, { 'Customer-Id': '123', Other: 'two words' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('submit: fromid for FromIDLoginAddresses logins, unique per recipient; own fromid one recipient only', async () => {
  await withSubmitter(accounts({ Destinations: { 'mjl@example.com': {}, 'fid@example.com': {} }, FromIDLoginAddresses: ['fid@example.com'] }), async (s, q) => {
    const plain = await s.submit(req());
    assert.equal(plain.queued[0]!.fromId, null);
    assert.equal(plain.queued[0]!.senderLocalpart, 'mjl');
    const r = await s.submit(req({ loginAddress: 'FID@example.com', recipients: [{ localpart: 'a', domain: 'r.example' }, { localpart: 'b', domain: 'r.example' }] }));
    const [a, b] = r.queued;
    assert.match(a!.fromId!, /^[A-Za-z0-9_-]{22}$/);
    assert.notEqual(a!.fromId, b!.fromId);
    assert.equal(a!.senderLocalpart, `mjl+${a!.fromId}`);
    assert.equal(q.get(b!.id)!.senderLocalpart, `mjl+${b!.fromId}`);
    const own = await s.submit(req({ loginAddress: 'fid@example.com', mailFrom: { localpart: 'mjl+myid123', domain: 'example.com' } }));
    assert.equal(own.queued[0]!.fromId, 'myid123');
    assert.equal(own.queued[0]!.senderLocalpart, 'mjl+myid123');
    await rejects(s.submit(req({ loginAddress: 'fid@example.com', mailFrom: { localpart: 'mjl+myid123', domain: 'example.com' } })), 'duplicateFromId');
    await rejects(
      s.submit(req({ loginAddress: 'fid@example.com', mailFrom: { localpart: 'mjl+x', domain: 'example.com' }, recipients: [{ localpart: 'a', domain: 'r.example' }, { localpart: 'b', domain: 'r.example' }] })),
      'fromIdMultipleRecipients',
    );
  });
});

test('submit: send limits over a rolling 24 h (messages per recipient, first-time recipients)', async () => {
  await withSubmitter(accounts({ MaxOutgoingMessagesPerDay: 5, MaxFirstTimeRecipientsPerDay: 3 }), async (s) => {
    const rc = (...names: string[]) => names.map((n) => ({ localpart: n, domain: 'r.example' }));
    await s.submit(req({ recipients: rc('a', 'b') }));
    await s.submit(req({ recipients: rc('a') }));
    // 3 sent; two more new recipients would make 4 first-time (> 3).
    await rejects(s.submit(req({ recipients: rc('c', 'd') })), 'recipientLimitReached');
    await s.submit(req({ recipients: rc('c') }));
    await rejects(s.submit(req({ recipients: rc('a', 'b') })), 'messageLimitReached');
    await s.submit(req({ recipients: rc('a') }));
    await rejects(s.submit(req({ recipients: rc('a') })), 'messageLimitReached');
    now += 24 * 3600_000 + 1;
    await s.submit(req({ recipients: rc('a', 'b', 'c', 'e') }));
  });
});

test('submit: concurrent submissions cannot overshoot the message limit', async () => {
  await withSubmitter(accounts({ MaxOutgoingMessagesPerDay: 10, MaxFirstTimeRecipientsPerDay: 1000 }), async (s) => {
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => s.submit(req({ recipients: [{ localpart: `u${i}`, domain: 'r.example' }] }))));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 10);
  });
});

test('submit: FUTURERELEASE sets the first attempt, at most 60 days ahead', async () => {
  const t = new Date(now);
  assert.deepEqual(futureReleaseAt({ holdForSeconds: 3600 }, t), { at: new Date(now + 3600_000), request: 'for;3600' });
  assert.throws(() => futureReleaseAt({ holdForSeconds: 60 * 86400 + 1 }, t), SubmitError);
  assert.throws(() => futureReleaseAt({ holdUntil: new Date(now - 1000) }, t), SubmitError);
  assert.throws(() => futureReleaseAt({ holdUntil: new Date(now + 60 * 86400_000 + 1000) }, t), SubmitError);
  await withSubmitter(accounts(), async (s, q) => {
    const until = new Date(Math.floor(now / 1000) * 1000 + 86400_000);
    const r = await s.submit(req({ futureRelease: { holdUntil: until } }));
    const m = q.get(r.queued[0]!.id)!;
    assert.equal(m.nextAttempt.getTime(), until.getTime());
    assert.equal(m.futureRelease, `until;${until.toISOString().replace('.000Z', 'Z')}`);
    await rejects(s.submit(req({ futureRelease: { holdForSeconds: 61 * 86400 } })), 'futureRelease');
  });
});

test('submit: hold rules apply to new submissions; TLS-Required: No', async () => {
  await withSubmitter(accounts(), async (s, q) => {
    q.addHoldRule({ account: '', senderDomain: '', recipientDomain: 'held.example' });
    const r = await s.submit(req({ recipients: [{ localpart: 'a', domain: 'held.example' }, { localpart: 'a', domain: 'free.example' }] }));
    assert.deepEqual(r.queued.map((m) => m.hold), [true, false]);
    const t = await s.submit(req({ message: Buffer.from('TLS-Required: No\r\n' + MSG) }));
    assert.equal(t.queued[0]!.requireTLS, false);
    const t2 = await s.submit(req({ requireTLS: true }));
    assert.equal(t2.queued[0]!.requireTLS, true);
  });
});
