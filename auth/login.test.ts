import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthDb, LOGIN_ATTEMPT_RETENTION_MS } from './authdb.js';
import { hashPassword, type PasswordRecord } from './password.js';
import { FAILED_LOGIN_DELAY_MS, LoginGuard, tlsDescription, type LoginAccount, type LoginContext, type LoginOutcome } from './login.js';
import { normalizeLoginName, saslClient, type SaslStep } from './sasl.js';

const fast = { scryptN: 1024, scramIterations: 64 };
let recP: Promise<PasswordRecord> | undefined;
const rec = () => (recP ??= hashPassword('secret', fast));

const DAY = 24 * 3600_000;

interface Env {
  guard: LoginGuard;
  db: AuthDb;
  clock: { now: number };
  lookups: string[];
  sleeps: number[];
  accounts: Map<string, Omit<LoginAccount, 'record'>>;
}

function withGuard(fn: (e: Env) => Promise<void>, o: { realDelay?: boolean; lookupThrows?: boolean } = {}): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moxts-login-'));
    // Start on a day boundary, so minute and day windows are easy to reason about.
    const clock = { now: Date.UTC(2026, 0, 1) };
    const db = AuthDb.open(dir, { clock: () => clock.now });
    const lookups: string[] = [];
    const sleeps: number[] = [];
    const accounts = new Map<string, Omit<LoginAccount, 'record'>>([
      ['mjl@mox.example', { account: 'mjl' }],
      ['off@mox.example', { account: 'off', loginDisabled: 'account suspended, contact admin@mox.example' }],
    ]);
    const guard = new LoginGuard({
      authDb: db,
      clock: () => clock.now,
      ...(o.realDelay ? {} : { failureDelayMs: 0 }),
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      lookupAccount: async (u) => {
        lookups.push(u);
        if (o.lookupThrows) throw new Error('config gone');
        const a = accounts.get(normalizeLoginName(u));
        return a ? { ...a, record: await rec() } : undefined;
      },
    });
    try {
      await fn({ guard, db, clock, lookups, sleeps, accounts });
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

const imap = (ip: string, extra: Partial<LoginContext> = {}): LoginContext => ({ protocol: 'imap', mechanism: 'imap-login', ip, ...extra });
const reasonOf = (r: LoginOutcome) => (r.ok ? 'ok' : r.reason);
const wrong = (g: LoginGuard, ip: string) => g.authenticatePassword({ ...imap(ip), username: 'mjl@mox.example', password: 'nope' });
const right = (g: LoginGuard, ip: string) => g.authenticatePassword({ ...imap(ip), username: 'mjl@mox.example', password: 'secret' });

test(
  'right password logs in; wrong password fails; attempts recorded with all fields',
  withGuard(async ({ guard, db }) => {
    const ctx: LoginContext = { protocol: 'webapi', mechanism: 'http-basic', ip: '192.0.2.1', localIP: '198.51.100.7', tls: 'TLSv1.3 TLS_AES_256_GCM_SHA384', userAgent: 'curl/8' };
    assert.deepEqual(await guard.authenticatePassword({ ...ctx, username: 'mjl@MOX.example', password: 'secret' }), { ok: true, account: 'mjl' });
    assert.deepEqual(await guard.authenticatePassword({ ...ctx, username: 'mjl@mox.example', password: 'Secret' }), { ok: false, reason: 'badcreds', message: 'invalid credentials' });
    assert.deepEqual(await guard.authenticatePassword({ ...ctx, username: 'who@mox.example', password: 'secret' }), { ok: false, reason: 'badcreds', message: 'invalid credentials' });
    const [unknown, bad, ok] = db.recentAttempts().attempts;
    assert.deepEqual(
      { ...ok!, id: 0 },
      { id: 0, time: ok!.time, protocol: 'webapi', mechanism: 'http-basic', remoteIP: '192.0.2.1', localIP: '198.51.100.7', tls: 'TLSv1.3 TLS_AES_256_GCM_SHA384', account: 'mjl', loginName: 'mjl@MOX.example', userAgent: 'curl/8', result: 'ok' },
    );
    assert.equal(bad!.result, 'badcreds');
    assert.equal(bad!.account, 'mjl', 'the account sees failed attempts on it');
    assert.equal(unknown!.result, 'badcreds');
    assert.equal(unknown!.account, null);
    assert.equal(unknown!.loginName, 'who@mox.example');
    assert.equal(db.recentAttempts({ account: 'mjl' }).attempts.length, 2);
  }),
);

test(
  '10 failures per minute per IP, then rate limited without password work; other classes unaffected',
  withGuard(async ({ guard, db, clock, lookups }) => {
    for (let i = 0; i < 10; i++) {
      assert.deepEqual(guard.checkLogin('192.0.2.1'), { allowed: true });
      assert.equal((await wrong(guard, '192.0.2.1')).ok, false);
    }
    assert.deepEqual(guard.checkLogin('192.0.2.1'), { ratelimited: true });
    const n = lookups.length;
    // Even the right password is refused now, and no lookup or scrypt happens.
    assert.deepEqual(await right(guard, '192.0.2.1'), { ok: false, reason: 'ratelimited', message: 'too many authentication failures' });
    assert.equal(lookups.length, n);
    assert.equal(db.recentAttempts({ limit: 1 }).attempts[0]!.result, 'ratelimited');
    // Other IPs: same /26 (class 2 has room), other /26, other /21, IPv6.
    for (const ip of ['192.0.2.2', '192.0.2.200', '10.9.8.7', '2001:db8::1']) assert.deepEqual(guard.checkLogin(ip), { allowed: true }, ip);
    assert.deepEqual(await right(guard, '192.0.2.2'), { ok: true, account: 'mjl' });
    // IPv4-mapped form of the same address is the same class-1 key.
    assert.deepEqual(guard.checkLogin('::ffff:192.0.2.1'), { ratelimited: true });
    // Next minute: allowed again.
    clock.now += 60_000;
    assert.deepEqual(guard.checkLogin('192.0.2.1'), { allowed: true });
  }),
);

test(
  '/26 neighbours count toward class 2 (30/min), the /21 toward class 3 (90/min)',
  withGuard(async ({ guard }) => {
    for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) for (let i = 0; i < 10; i++) guard.recordFailure(ip);
    assert.deepEqual(guard.checkLogin('192.0.2.4'), { ratelimited: true }, 'same /26, never failed itself');
    assert.deepEqual(guard.checkLogin('192.0.2.63'), { ratelimited: true });
    assert.deepEqual(guard.checkLogin('192.0.2.64'), { allowed: true }, 'next /26');
    for (const base of [64, 128]) for (let k = 0; k < 3; k++) for (let i = 0; i < 10; i++) guard.recordFailure(`192.0.2.${base + k}`);
    assert.deepEqual(guard.checkLogin('192.0.2.200'), { ratelimited: true }, 'class 3 (/21) full: 90');
    assert.deepEqual(guard.checkLogin('192.0.7.1'), { ratelimited: true }, 'same /21');
    assert.deepEqual(guard.checkLogin('192.0.8.1'), { allowed: true }, 'next /21');
    // IPv6: /64 is class 1.
    for (let i = 0; i < 10; i++) guard.recordFailure('2001:db8:1:2::1');
    assert.deepEqual(guard.checkLogin('2001:db8:1:2::ffff'), { ratelimited: true }, 'same /64');
    assert.deepEqual(guard.checkLogin('2001:db8:1:3::1'), { allowed: true }, 'other /64, same /48');
  }),
);

test(
  'a successful login resets the IP’s failures',
  withGuard(async ({ guard }) => {
    for (let i = 0; i < 9; i++) await wrong(guard, '192.0.2.1');
    assert.deepEqual(await right(guard, '192.0.2.1'), { ok: true, account: 'mjl' });
    for (let i = 0; i < 10; i++) assert.equal(reasonOf(await wrong(guard, '192.0.2.1')), 'badcreds', `failure ${i}`);
    assert.equal(reasonOf(await wrong(guard, '192.0.2.1')), 'ratelimited');
  }),
);

test(
  'day window: 50 failures per day per IP',
  withGuard(async ({ guard, clock }) => {
    for (let m = 0; m < 5; m++) {
      for (let i = 0; i < 10; i++) guard.recordFailure('192.0.2.1');
      clock.now += 60_000;
    }
    assert.deepEqual(guard.checkLogin('192.0.2.1'), { ratelimited: true }, 'minute window is fresh, day is full');
    assert.deepEqual(guard.checkLogin('192.0.2.2'), { allowed: true }, 'neighbour: class 2 day limit is 150');
    clock.now = Date.UTC(2026, 0, 2);
    assert.deepEqual(guard.checkLogin('192.0.2.1'), { allowed: true }, 'next day');
  }),
);

test(
  'failure delay: 1 s by default, awaited before the result; none on success',
  withGuard(
    async ({ guard, sleeps }) => {
      assert.equal(FAILED_LOGIN_DELAY_MS, 1000);
      await wrong(guard, '192.0.2.1');
      assert.deepEqual(sleeps, [1000]);
      await right(guard, '192.0.2.1');
      assert.deepEqual(sleeps, [1000]);
      // Rate-limited refusals and disabled accounts are not delayed (nothing was guessed).
      for (let i = 0; i < 10; i++) await wrong(guard, '192.0.2.9');
      await wrong(guard, '192.0.2.9');
      assert.equal(sleeps.length, 11);
    },
    { realDelay: true },
  ),
);

test(
  'LoginDisabled: only after the right password, with the account’s message; not a failure',
  withGuard(async ({ guard, db }) => {
    const r = await guard.authenticatePassword({ ...imap('192.0.2.1'), username: 'off@mox.example', password: 'secret' });
    assert.deepEqual(r, { ok: false, reason: 'disabled', message: 'account suspended, contact admin@mox.example' });
    const w = await guard.authenticatePassword({ ...imap('192.0.2.1'), username: 'off@mox.example', password: 'wrong' });
    assert.deepEqual(w, { ok: false, reason: 'badcreds', message: 'invalid credentials' });
    const [a2, a1] = db.recentAttempts().attempts;
    assert.equal(a1!.result, 'disabled');
    assert.equal(a1!.account, 'off');
    assert.equal(a2!.result, 'badcreds');
    // Twenty disabled logins do not use up the limit.
    for (let i = 0; i < 20; i++) await guard.authenticatePassword({ ...imap('192.0.2.2'), username: 'off@mox.example', password: 'secret' });
    assert.deepEqual(guard.checkLogin('192.0.2.2'), { allowed: true });
  }),
);

test(
  'lookup errors: result "error", recorded, not counted',
  withGuard(
    async ({ guard, db }) => {
      const r = await right(guard, '192.0.2.1');
      assert.deepEqual(r, { ok: false, reason: 'error', message: 'temporary server error' });
      assert.equal(db.recentAttempts().attempts[0]!.result, 'error');
      const s = guard.startSasl('PLAIN', { tls: true });
      const step = await s.step(Buffer.from('\0mjl@mox.example\0secret'));
      assert.deepEqual(await guard.recordSaslResult({ protocol: 'imap', mechanism: 'PLAIN', ip: '192.0.2.1' }, step as Exclude<SaslStep<LoginAccount>, { challenge: Buffer }>), {
        ok: false,
        reason: 'error',
        message: 'temporary server error',
      });
    },
    { lookupThrows: true },
  ),
);

async function saslRun(guard: LoginGuard, mech: string, username: string, password: string, ip: string, cancel = false) {
  const ctx: LoginContext = { protocol: 'smtp-submission', mechanism: mech, ip, tls: 'TLSv1.3 TLS_AES_128_GCM_SHA256' };
  if ('ratelimited' in guard.checkLogin(ip)) return guard.recordSaslResult(ctx, { ratelimited: true });
  const s = guard.startSasl(mech, { tls: true });
  const c = saslClient(mech, { username, password });
  const init = await c.initialResponse();
  let r = await s.stepText(init ? init.toString('base64') : null);
  while ('challenge' in r) r = await s.stepText(cancel ? '*' : (await c.respond(r.challenge)).toString('base64'));
  return guard.recordSaslResult(ctx, r);
}

test(
  'SASL flows: success, failures, cancel and malformed recorded; only bad credentials count',
  withGuard(async ({ guard, db }) => {
    assert.deepEqual(await saslRun(guard, 'SCRAM-SHA-256', 'mjl@mox.example', 'secret', '192.0.2.1'), { ok: true, account: 'mjl' });
    assert.deepEqual(await saslRun(guard, 'SCRAM-SHA-1', 'mjl@mox.example', 'bad', '192.0.2.1'), { ok: false, reason: 'badcreds', message: 'invalid credentials' });
    assert.deepEqual(await saslRun(guard, 'PLAIN', 'nobody@mox.example', 'secret', '192.0.2.1'), { ok: false, reason: 'badcreds', message: 'invalid credentials' });
    assert.deepEqual(await saslRun(guard, 'SCRAM-SHA-256', 'mjl@mox.example', 'secret', '192.0.2.1', true), { ok: false, reason: 'aborted', message: 'authentication aborted' });
    assert.deepEqual(await saslRun(guard, 'SCRAM-SHA-256', 'off@mox.example', 'secret', '192.0.2.1'), { ok: false, reason: 'disabled', message: 'account suspended, contact admin@mox.example' });
    const s = guard.startSasl('LOGIN', { tls: true });
    const m = await s.stepText('%%%');
    assert.deepEqual(await guard.recordSaslResult({ protocol: 'imap', mechanism: 'LOGIN', ip: '192.0.2.1' }, m as Exclude<SaslStep<LoginAccount>, { challenge: Buffer }>), {
      ok: false,
      reason: 'malformed',
      message: 'malformed authentication',
    });
    const t = await guard.startSasl('PLAIN', { tls: false }).stepText(null);
    assert.equal(reasonOf(await guard.recordSaslResult({ protocol: 'imap', mechanism: 'PLAIN', ip: '192.0.2.1' }, t as Exclude<SaslStep<LoginAccount>, { challenge: Buffer }>)), 'tlsrequired');
    const rows = db.recentAttempts().attempts.reverse();
    assert.deepEqual(
      rows.map((a) => [a.protocol, a.mechanism, a.account, a.loginName, a.result]),
      [
        ['smtp-submission', 'SCRAM-SHA-256', 'mjl', 'mjl@mox.example', 'ok'],
        ['smtp-submission', 'SCRAM-SHA-1', 'mjl', 'mjl@mox.example', 'badcreds'],
        ['smtp-submission', 'PLAIN', null, 'nobody@mox.example', 'badcreds'],
        ['smtp-submission', 'SCRAM-SHA-256', null, 'mjl@mox.example', 'aborted'],
        ['smtp-submission', 'SCRAM-SHA-256', 'off', 'off@mox.example', 'disabled'],
        ['imap', 'LOGIN', null, '', 'malformed'],
        ['imap', 'PLAIN', null, '', 'malformed'],
      ],
    );
    assert.equal(rows[0]!.tls, 'TLSv1.3 TLS_AES_128_GCM_SHA256');
    // Two bad-credential failures counted: 8 more reach the limit.
    for (let i = 0; i < 8; i++) assert.equal(reasonOf(await saslRun(guard, 'PLAIN', 'mjl@mox.example', 'bad', '192.0.2.1')), 'badcreds');
    assert.deepEqual(await saslRun(guard, 'SCRAM-SHA-256', 'mjl@mox.example', 'secret', '192.0.2.1'), { ok: false, reason: 'ratelimited', message: 'too many authentication failures' });
    assert.equal(db.recentAttempts({ limit: 1 }).attempts[0]!.result, 'ratelimited');
  }),
);

test(
  'attempts are cleaned up after 30 days',
  withGuard(async ({ guard, db, clock }) => {
    await wrong(guard, '192.0.2.1');
    clock.now += DAY;
    await right(guard, '192.0.2.1');
    clock.now += LOGIN_ATTEMPT_RETENTION_MS - DAY;
    assert.equal(db.cleanup(), 0);
    clock.now += 1;
    assert.equal(db.cleanup(), 1);
    assert.deepEqual(
      db.recentAttempts().attempts.map((a) => a.result),
      ['ok'],
    );
    clock.now += DAY;
    assert.equal(db.cleanup(), 1);
  }),
);

test('tlsDescription', () => {
  assert.equal(tlsDescription(null), null);
  assert.equal(tlsDescription({ encrypted: false }), null);
  const fake = { encrypted: true, getProtocol: () => 'TLSv1.3', getCipher: () => ({ name: 'TLS_AES_128_GCM_SHA256', standardName: 'TLS_AES_128_GCM_SHA256', version: 'TLSv1.3' }) };
  assert.equal(tlsDescription(fake as never), 'TLSv1.3 TLS_AES_128_GCM_SHA256');
});
