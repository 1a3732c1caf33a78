/**
 * Webapi authentication and the shared failed-login limiter (mox §9.2): past the limit of failures
 * from one IP every request gets 429, even with the right password; the refusal is recorded;
 * other protocols share the same limiter. A changed password invalidates cached credentials.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWebapiServer, post, form, basic, PASSWORD } from './helpers/webapi.js';
import { hashPassword } from '../auth/password.js';

test('429 after too many failed logins, for good credentials too; recorded as ratelimited', async () => {
  const ts = await startWebapiServer();
  try {
    const url = `${ts.base}v0/SuppressionList`;
    const f = form({});
    const good = { ...f.headers, authorization: basic('mjl@example.com', PASSWORD) };
    assert.equal((await post(url, f.body, good)).status, 200);
    // The limiter counts in fixed one-minute windows: fail until it refuses, then ask with the right
    // password. Should the minute roll over in between (the limiter allows again), repeat.
    let limited;
    for (let round = 0; round < 3; round++) {
      let fails = 0;
      while (!('ratelimited' in ts.server.loginGuard.checkLogin('127.0.0.1'))) {
        const r = await post(url, f.body, { ...f.headers, authorization: basic('mjl@example.com', `wrong${fails}`) });
        assert.equal(r.status, 401);
        assert.ok(++fails <= 20, 'limited after 10 failures in a minute (20 if a minute boundary passed)');
      }
      limited = await post(url, f.body, good);
      if (limited.status === 429) break;
    }
    assert.equal(limited!.status, 429);
    assert.match(limited!.text, /too many auth attempts/);
    const { attempts } = ts.server.authDb.recentAttempts({ limit: 100 });
    assert.ok(attempts.some((a) => a.protocol === 'webapi' && a.result === 'ratelimited'));
  } finally {
    await ts.stop();
  }
});

test('a changed password takes effect at once (cached credentials dropped)', async () => {
  const ts = await startWebapiServer();
  try {
    const url = `${ts.base}v0/SuppressionList`;
    const f = form({});
    assert.equal((await post(url, f.body, { ...f.headers, authorization: basic('mjl@example.com', PASSWORD) })).status, 200);
    assert.equal((await post(url, f.body, { ...f.headers, authorization: basic('mjl@example.com', PASSWORD) })).status, 200);
    ts.server.store.account('mjl').setPassword(await hashPassword('newpassword'));
    assert.equal((await post(url, f.body, { ...f.headers, authorization: basic('mjl@example.com', PASSWORD) })).status, 401);
    assert.equal((await post(url, f.body, { ...f.headers, authorization: basic('mjl@example.com', 'newpassword') })).status, 200);
  } finally {
    await ts.stop();
  }
});
