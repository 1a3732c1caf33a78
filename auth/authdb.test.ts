import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthDb, AUTH_DB_FILE, AUTH_MIGRATIONS, LOGIN_ATTEMPT_RETENTION_MS, type LoginAttempt } from './authdb.js';

function withDb(fn: (db: AuthDb, dir: string, clock: { now: number }) => void | Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moxts-authdb-'));
    const clock = { now: Date.UTC(2026, 0, 1) };
    const db = AuthDb.open(dir, { clock: () => clock.now });
    try {
      await fn(db, dir, clock);
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test(
  'auth.db: WAL, synchronous=NORMAL, migrated, reopens',
  withDb((db, dir) => {
    assert.ok(existsSync(join(dir, AUTH_DB_FILE)));
    assert.equal(db.db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.db.pragma('synchronous', { simple: true }), 1); // NORMAL
    assert.equal(db.db.pragma('user_version', { simple: true }), AUTH_MIGRATIONS.length);
    const again = AuthDb.open(dir);
    assert.equal(again.db.pragma('user_version', { simple: true }), AUTH_MIGRATIONS.length);
    again.close();
  }),
);

test(
  'attempts round trip with all fields; unknown results refused by the schema',
  withDb((db, _dir, clock) => {
    const id = db.addAttempt({
      protocol: 'imap',
      mechanism: 'SCRAM-SHA-256',
      remoteIP: '192.0.2.1',
      localIP: '198.51.100.1',
      tls: 'TLSv1.3 TLS_AES_128_GCM_SHA256',
      account: 'mjl',
      loginName: 'mjl@mox.example',
      userAgent: 'Thunderbird 128',
      result: 'ok',
    });
    db.addAttempt({ protocol: 'smtp-submission', mechanism: 'PLAIN', remoteIP: '2001:db8::1', loginName: 'x'.repeat(1000), result: 'badcreds', time: clock.now + 1 });
    const { attempts, next } = db.recentAttempts();
    assert.equal(next, undefined);
    assert.equal(attempts.length, 2);
    assert.deepEqual(attempts[1], {
      id,
      time: clock.now,
      protocol: 'imap',
      mechanism: 'SCRAM-SHA-256',
      remoteIP: '192.0.2.1',
      localIP: '198.51.100.1',
      tls: 'TLSv1.3 TLS_AES_128_GCM_SHA256',
      account: 'mjl',
      loginName: 'mjl@mox.example',
      userAgent: 'Thunderbird 128',
      result: 'ok',
    } satisfies LoginAttempt);
    assert.equal(attempts[0]!.loginName.length, 256, 'client-given text capped');
    assert.equal(attempts[0]!.localIP, null);
    assert.equal(attempts[0]!.tls, null);
    assert.equal(attempts[0]!.account, null);
    assert.throws(() => db.addAttempt({ protocol: 'imap', mechanism: 'PLAIN', remoteIP: '192.0.2.1', loginName: '', result: 'bogus' as 'ok' }), /CHECK/);
  }),
);

test(
  'recent attempts: newest first, keyset pages without gaps or repeats, per account',
  withDb((db, _dir, clock) => {
    const t0 = clock.now;
    // 25 attempts, several sharing a timestamp (the id breaks ties).
    for (let i = 0; i < 25; i++) {
      db.addAttempt({ time: t0 + Math.floor(i / 3), protocol: 'imap', mechanism: 'PLAIN', remoteIP: '192.0.2.1', account: i % 2 ? 'a' : 'b', loginName: `n${i}`, result: 'ok' });
    }
    const seen: string[] = [];
    let cursor = undefined;
    let pages = 0;
    do {
      const p = db.recentAttempts({ limit: 10, ...(cursor ? { before: cursor } : {}) });
      seen.push(...p.attempts.map((a) => a.loginName));
      cursor = p.next;
      pages++;
    } while (cursor);
    assert.equal(pages, 3);
    assert.deepEqual(seen, Array.from({ length: 25 }, (_, i) => `n${24 - i}`));
    const a: string[] = [];
    cursor = undefined;
    do {
      const p = db.recentAttempts({ account: 'a', limit: 5, ...(cursor ? { before: cursor } : {}) });
      assert.ok(p.attempts.every((x) => x.account === 'a'));
      a.push(...p.attempts.map((x) => x.loginName));
      cursor = p.next;
    } while (cursor);
    assert.deepEqual(a, Array.from({ length: 12 }, (_, i) => `n${23 - 2 * i}`));
    // An exact multiple of the page size has no empty last page.
    assert.equal(db.recentAttempts({ account: 'b', limit: 13 }).next, undefined);
  }),
);

test(
  'cleanup removes attempts older than 30 days, in batches',
  withDb((db, _dir, clock) => {
    const t0 = clock.now;
    const insertOld = db.db.transaction(() => {
      for (let i = 0; i < 12_000; i++) db.addAttempt({ time: t0, protocol: 'imap', mechanism: 'PLAIN', remoteIP: '192.0.2.1', loginName: 'old', result: 'badcreds' });
    });
    insertOld();
    db.addAttempt({ time: t0 + 1000, protocol: 'imap', mechanism: 'PLAIN', remoteIP: '192.0.2.1', loginName: 'newer', result: 'ok' });
    clock.now = t0 + LOGIN_ATTEMPT_RETENTION_MS;
    assert.equal(db.cleanup(), 0, 'exactly 30 days old is kept');
    clock.now = t0 + LOGIN_ATTEMPT_RETENTION_MS + 1;
    assert.equal(db.cleanup(), 12_000);
    assert.deepEqual(
      db.recentAttempts().attempts.map((a) => a.loginName),
      ['newer'],
    );
    // scheduleCleanup runs once right away and returns a stop function.
    clock.now = t0 + LOGIN_ATTEMPT_RETENTION_MS + 2000;
    const stop = db.scheduleCleanup();
    stop();
    assert.equal(db.recentAttempts().attempts.length, 0);
  }),
);
