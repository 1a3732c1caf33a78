/**
 * Password logins of the admin and account pages, through the server's one LoginGuard: the
 * shared failed-login limiter (per IP class, per minute and per day), the failure delay and the
 * login-attempt record (protocol "web-admin" / "web-account").
 */
import type { IncomingMessage } from 'node:http';
import { tlsDescription, type LoginGuard, type LoginContext } from '../auth/login.js';
import { verifyPassword, type PasswordRecord } from '../auth/password.js';
import { fakeRecord } from '../auth/sasl.js';
import type { LoginResult } from './ui.js';

function context(protocol: string, ip: string, req: IncomingMessage): LoginContext {
  return {
    protocol,
    mechanism: 'web-form',
    ip,
    localIP: req.socket.localAddress ?? null,
    tls: tlsDescription(req.socket as { encrypted?: boolean }),
    userAgent: req.headers['user-agent'] ?? null,
  };
}

const RATELIMITED = 'Too many failed logins from your address; try again later.';

/** Account login with an email address of the account and its password. */
export function accountLogin(guard: LoginGuard) {
  return async (l: { username: string; password: string; ip: string; req: IncomingMessage }): Promise<LoginResult> => {
    const out = await guard.authenticatePassword({ ...context('web-account', l.ip, l.req), username: l.username, password: l.password });
    if (out.ok) return { ok: true, account: out.account, loginName: l.username };
    switch (out.reason) {
      case 'ratelimited':
        return { ok: false, status: 429, message: RATELIMITED };
      case 'disabled':
        return { ok: false, status: 401, message: `Login disabled: ${out.message}` };
      case 'error':
        return { ok: false, status: 500, message: 'Error verifying the password; see the server log.' };
      default:
        return { ok: false, status: 401, message: 'Wrong email address or password.' };
    }
  };
}

/**
 * Admin login with the admin password, whose hash is in AdminPasswordFile (written by
 * `moxts setadminpassword`); read at each login so a new password works without a restart.
 */
export function adminLogin(guard: LoginGuard, readHash: () => Promise<PasswordRecord | undefined>) {
  return async (l: { username: string; password: string; ip: string; req: IncomingMessage }): Promise<LoginResult> => {
    const ctx = context('web-admin', l.ip, l.req);
    if ('ratelimited' in guard.checkLogin(l.ip)) {
      guard.recordAttempt(ctx, { loginName: 'admin', result: 'ratelimited' });
      return { ok: false, status: 429, message: RATELIMITED };
    }
    let record: PasswordRecord | undefined;
    try {
      record = await readHash();
    } catch {
      record = undefined;
    }
    // Without a configured password the check still costs a hash, and always fails.
    const ok = (await verifyPassword(record ?? fakeRecord(), l.password)) && record !== undefined;
    if (!ok) {
      guard.recordAttempt(ctx, { loginName: 'admin', result: 'badcreds' });
      await guard.recordFailure(l.ip);
      return { ok: false, status: 401, message: record ? 'Wrong password.' : 'No admin password is set; set one with "moxts setadminpassword".' };
    }
    guard.recordSuccess(l.ip);
    guard.recordAttempt(ctx, { loginName: 'admin', result: 'ok' });
    return { ok: true, loginName: 'admin' };
  };
}
