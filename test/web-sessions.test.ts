/**
 * Web login sessions survive a server restart (auth.db, web/session-db.ts): a user logged in to the account
 * pages and the admin logged in to the admin pages stay logged in with the same cookies and CSRF
 * tokens after the server is stopped and started again on the same directory; logging out ends
 * the session for good, and auth.db holds no cookie token. A password set by the admin ends the
 * account's sessions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startServer } from '../cmd/server.js';
import { nullLogger } from '../log/logger.js';
import { startWebServer, WebSession, ADMIN_PASSWORD, ACCOUNT_PASSWORD } from './helpers/web.js';

test('web sessions: still logged in after a restart, same CSRF token; logout ends them for good', async (t) => {
  const ts = await startWebServer();
  let running: { stop(): Promise<void> } | undefined = ts.server;
  t.after(async () => {
    await running?.stop();
    await ts.dns.close();
    rmSync(ts.dir, { recursive: true, force: true });
  });
  const account = ts.account();
  assert.equal((await account.login(ACCOUNT_PASSWORD, 'mjl@example.com')).status, 303);
  const admin = ts.admin();
  assert.equal((await admin.login(ADMIN_PASSWORD)).status, 303);
  const page = await account.get('');
  assert.equal(page.status, 200);
  const csrf = account.csrf;
  assert.ok(csrf);
  assert.equal((await admin.get('')).status, 200);

  await ts.server.stop();
  running = undefined;
  for (const [name, v] of [...account.cookies, ...admin.cookies]) {
    const db = ['auth.db', 'auth.db-wal'].map((f) => join(ts.dir, 'data', f)).filter((f) => existsSync(f)).map((f) => readFileSync(f).toString('latin1')).join('');
    assert.ok(!db.includes(v), `cookie ${name} is not stored in auth.db`);
  }
  const server = await startServer({ configPath: join(ts.dir, 'mox.conf'), log: nullLogger(), resolver: ts.dns.resolver, failedLoginDelayMs: 0 });
  running = server;
  const origin = `http://127.0.0.1:${server.listeners.find((l) => l.service === 'admin')!.port}`;
  const account2 = new WebSession(`${origin}/account/`);
  for (const [k, v] of account.cookies) account2.cookies.set(k, v);
  const admin2 = new WebSession(`${origin}/admin/`);
  for (const [k, v] of admin.cookies) admin2.cookies.set(k, v);

  const again = await account2.get('');
  assert.equal(again.status, 200, 'account page, not a redirect to the login form');
  assert.match(again.text, /mjl@example\.com/);
  assert.equal(account2.csrf, csrf, 'same CSRF token');
  assert.equal((await admin2.get('')).status, 200);

  // A form posted with the CSRF token of the page fetched before the restart works.
  const out = await account2.post('logout', {});
  assert.equal(out.status, 303);
  const gone = new WebSession(`${origin}/account/`);
  for (const [k, v] of account.cookies) gone.cookies.set(k, v);
  const r = await gone.get('');
  assert.equal(r.status, 303, 'logged out: the old cookie leads to the login form');
  assert.match(String(r.headers.location), /login$/);
});

test('a password set by the admin (or `moxts setaccountpassword`) logs the account out of its pages', async (t) => {
  const ts = await startWebServer();
  t.after(() => ts.stop());
  const account = ts.account();
  assert.equal((await account.login(ACCOUNT_PASSWORD, 'mjl@example.com')).status, 303);
  assert.equal((await account.get('')).status, 200);
  const admin = ts.admin();
  assert.equal((await admin.login(ADMIN_PASSWORD)).status, 303);
  await admin.get('accounts/mjl');
  const set = await admin.submit('accounts/mjl/password', { password: 'a new password 1' });
  assert.equal(set.status, 200);
  assert.match(set.text, /Password of mjl set/);
  const r = await account.get('');
  assert.equal(r.status, 303, 'the account session ended');
  assert.match(String(r.headers.location), /login$/);
  assert.equal((await admin.get('')).status, 200, 'the admin stays logged in');
  // The new password works.
  const again = ts.account();
  assert.equal((await again.login('a new password 1', 'mjl@example.com')).status, 303);
  assert.equal((await again.get('')).status, 200);
});
