import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWebServer, WebSession, ADMIN_PASSWORD, ACCOUNT_PASSWORD } from '../test/helpers/web.js';
import { html, render, raw } from './html.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SessionStore, TOUCH_EVERY_MS } from './session.js';
import { sessionPersistence } from './session-db.js';
import { AuthDb } from '../auth/authdb.js';

test('html: interpolated values are escaped, SafeHtml and arrays are not double-escaped', () => {
  const subject = '<script>alert("x")</script> & \'q\'';
  assert.equal(render(html`<td>${subject}</td>`), '<td>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;</td>');
  assert.equal(render(html`<ul>${['<a>', html`<li>${'b&'}</li>`]}</ul>`), '<ul>&lt;a&gt;<li>b&amp;</li></ul>');
  assert.equal(render(html`${null}${undefined}${false}${0}${raw('<br>')}`), '0<br>');
});

test('sessions: idle expiry and a limit per account (least recently used dropped)', () => {
  let now = 0;
  const s = new SessionStore({ idleMs: 1000, maxPerKey: 2 }, () => now);
  const a = s.create({ account: 'a', loginName: 'a@x' });
  now = 10;
  const b = s.create({ account: 'a', loginName: 'a@x' });
  const other = s.create({ account: 'b', loginName: 'b@x' });
  now = 20;
  s.get(a.token); // a is now more recent than b
  const c = s.create({ account: 'a', loginName: 'a@x' });
  assert.equal(s.get(b.token), undefined);
  assert.ok(s.get(a.token) && s.get(c.token) && s.get(other.token));
  now = 2000;
  assert.equal(s.get(a.token), undefined);
  assert.notEqual(a.session.csrf, c.session.csrf);
});

test('sessions persist: reloaded from auth.db after a restart, by token hash only; logout, expiry and password change remove them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'moxts-websess-'));
  try {
    let now = 1_000_000;
    const limits = { idleMs: 10 * TOUCH_EVERY_MS, maxPerKey: 5 };
    let db = AuthDb.open(dir);
    let s = new SessionStore(limits, () => now, sessionPersistence(db.db, 'account'));
    const admins = new SessionStore(limits, () => now, sessionPersistence(db.db, 'admin'));
    const a = s.create({ account: 'mjl', loginName: 'mjl@example.com' });
    const b = s.create({ account: 'mjl', loginName: 'mjl@example.com' });
    const c = s.create({ account: 'other', loginName: 'o@example.com' });
    const adm = admins.create({ loginName: 'admin' });
    now += 2 * TOUCH_EVERY_MS;
    assert.ok(s.get(a.token)); // written back (more than a minute since the last write)
    now += 9 * TOUCH_EVERY_MS; // b and c idle for 11 minutes, a for 9
    // The database has hashes, never the cookie tokens.
    const raw = readFileSync(join(dir, 'auth.db')).toString('latin1') + readFileSync(join(dir, 'auth.db-wal')).toString('latin1');
    for (const t of [a.token, b.token, c.token, adm.token]) assert.ok(!raw.includes(t), 'token not stored');
    db.close();

    // Restart.
    db = AuthDb.open(dir);
    s = new SessionStore(limits, () => now, sessionPersistence(db.db, 'account'));
    const got = s.get(a.token);
    assert.equal(got?.loginName, 'mjl@example.com');
    assert.equal(got?.csrf, a.session.csrf, 'same CSRF token after the restart');
    assert.equal(s.get(b.token), undefined, 'idle past the limit (expired while down)');
    assert.equal(s.get(c.token), undefined);
    assert.equal(s.get(adm.token), undefined, 'admin sessions are kept apart');
    assert.ok(new SessionStore(limits, () => now, sessionPersistence(db.db, 'admin')).size === 0, 'the admin session expired too');
    const d = s.create({ account: 'mjl', loginName: 'mjl@example.com' });
    assert.equal(s.deleteFor('mjl', d.session.key), 1, 'password change ends the other session');
    db.close();

    db = AuthDb.open(dir);
    s = new SessionStore(limits, () => now, sessionPersistence(db.db, 'account'));
    assert.equal(s.get(a.token), undefined, 'ended sessions stay ended after a restart');
    const kept = s.get(d.token)!;
    s.delete(kept);
    db.close();
    db = AuthDb.open(dir);
    assert.equal(new SessionStore(limits, () => now, sessionPersistence(db.db, 'account')).size, 0, 'logout removed it');
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('web pages: login, cookies, CSP, CSRF, logout, wrong passwords through the limiter', async (t) => {
  // A clock standing still in the middle of a minute: the failed-login limiter counts per fixed
  // minute window, so the attempts below must not straddle two windows.
  const now = Date.now();
  const fixed = new Date(now - (now % 60_000) + 30_000);
  const ts = await startWebServer({ clock: () => fixed });
  t.after(() => ts.stop());
  const admin = ts.admin();

  // Not logged in: pages redirect to the login form; the stylesheet is public.
  let r = await admin.get('');
  assert.equal(r.status, 303);
  assert.equal(r.headers.location, '/admin/login');
  r = await admin.get('static/style.css');
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /^text\/css/);

  r = await admin.get('login');
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-security-policy']), /default-src 'none'/);
  assert.doesNotMatch(String(r.headers['content-security-policy']), /unsafe-inline/);
  assert.equal(r.headers['x-frame-options'], 'DENY');

  // A login form posted without the login token (as from another site) is refused.
  r = await admin.post('login', { password: ADMIN_PASSWORD }, { csrf: null });
  assert.equal(r.status, 403);
  assert.equal(admin.cookies.has('moxtsadmin'), false);

  r = await admin.login('wrong');
  assert.equal(r.status, 401);
  assert.match(r.text, /Wrong password/);
  r = await admin.login(ADMIN_PASSWORD);
  assert.equal(r.status, 303);
  const setCookie = ([] as string[]).concat(r.headers['set-cookie'] as string[]).find((c) => c.startsWith('moxtsadmin='))!;
  assert.match(setCookie, /HttpOnly/);
  assert.match(setCookie, /SameSite=Strict/);
  assert.match(setCookie, /Path=\/admin\//);

  r = await admin.get('');
  assert.equal(r.status, 200);
  assert.match(r.text, /Overview/);
  assert.ok(admin.csrf.length > 20);

  // A state change without the CSRF token, or with another token, is refused.
  r = await admin.post('logout', {}, { csrf: null });
  assert.equal(r.status, 403);
  assert.match(r.text, /CSRF/);
  r = await admin.post('logout', {}, { csrf: 'x'.repeat(admin.csrf.length) });
  assert.equal(r.status, 403);
  // A cross-site request is refused even with the right token.
  r = await admin.post('logout', {}, { headers: { origin: 'http://evil.example' } });
  assert.equal(r.status, 403);
  r = await admin.post('logout', {}, { headers: { 'sec-fetch-site': 'cross-site' } });
  assert.equal(r.status, 403);
  assert.equal((await admin.get('')).status, 200, 'still logged in');

  r = await admin.post('logout', {});
  assert.equal(r.status, 303);
  assert.equal((await admin.get('')).status, 303, 'logged out');

  // The account pages: login with an address of the account; another account cannot be named.
  const acc = ts.account();
  r = await acc.login(ACCOUNT_PASSWORD, 'mjl@example.com');
  assert.equal(r.status, 303);
  r = await acc.get('');
  assert.equal(r.status, 200);
  assert.match(r.text, /mjl@example\.com/);
  // The admin session cookie is not sent to, nor accepted by, the account pages.
  const cross = new WebSession(acc.base);
  for (const [k, v] of admin.cookies) cross.cookies.set(k, v);
  assert.equal((await cross.get('')).status, 303);

  // Failed logins count in the shared limiter: past 10 a minute, 429.
  const bad = ts.account();
  let last = 0;
  for (let i = 0; i < 12; i++) last = (await bad.login('nope', 'mjl@example.com')).status;
  assert.equal(last, 429);
  const attempts = ts.server.authDb.recentAttempts({ limit: 50 }).attempts;
  assert.ok(attempts.some((a) => a.protocol === 'web-account' && a.result === 'ratelimited'));
  assert.ok(attempts.some((a) => a.protocol === 'web-admin' && a.result === 'ok'));
});
