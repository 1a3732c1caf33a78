// The server's one login guard (shared by submission, IMAP, webapi and web): account lookup by
// the account's own addresses, failure limits, attempts recorded in auth.db.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer } from './helpers/server.js';

test('login guard: account addresses log in, catchall/unknown do not, attempts recorded, limiter per IP', async () => {
  const ts = await startTestServer({
    accounts: { mjl: { Domain: 'example.com', Destinations: { 'mjl@example.com': {}, '@example.com': {} } } },
    passwords: { mjl: 'test1234' },
  });
  try {
    const g = ts.server.loginGuard;
    const ctx = { protocol: 'imap', mechanism: 'imap-login', ip: '192.0.2.1' };
    assert.deepEqual(await g.authenticatePassword({ ...ctx, username: 'mjl@example.com', password: 'test1234' }), { ok: true, account: 'mjl' });
    assert.deepEqual(await g.authenticatePassword({ ...ctx, username: 'MJL+tag@Example.COM', password: 'test1234' }), { ok: true, account: 'mjl' }, 'catchall separator and case fold');
    const viaCatchall = await g.authenticatePassword({ ...ctx, username: 'other@example.com', password: 'test1234' });
    assert.equal(viaCatchall.ok, false, 'an @domain catchall destination is not a login name');
    const bad = await g.authenticatePassword({ ...ctx, username: 'mjl@example.com', password: 'wrong' });
    assert.deepEqual(bad, { ok: false, reason: 'badcreds', message: 'invalid credentials' });
    const page = ts.server.authDb.recentAttempts({});
    assert.equal(page.attempts.length, 4);
    assert.deepEqual(new Set(page.attempts.map((a) => a.result)), new Set(['ok', 'badcreds']));
    assert.ok(page.attempts.every((a) => a.protocol === 'imap' && a.remoteIP === '192.0.2.1'));
    // Exhaust the per-minute limit for this IP (mox §9.2: 10 per minute for one IPv4 address).
    for (let i = 0; i < 20 && 'allowed' in g.checkLogin('192.0.2.1'); i++) await g.authenticatePassword({ ...ctx, username: 'mjl@example.com', password: 'wrong' });
    const limited = await g.authenticatePassword({ ...ctx, username: 'mjl@example.com', password: 'test1234' });
    assert.deepEqual(limited, { ok: false, reason: 'ratelimited', message: 'too many authentication failures' });
    assert.deepEqual(await g.authenticatePassword({ ...ctx, ip: '198.51.100.1', username: 'mjl@example.com', password: 'test1234' }), { ok: true, account: 'mjl' }, 'other IPs unaffected');
  } finally {
    await ts.stop();
  }
});
