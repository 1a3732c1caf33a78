/**
 * HTTP Basic authentication (rfc7617) against the server's one LoginGuard (auth/login.ts): the
 * shared failed-login limiter, password check, LoginDisabled and the login-attempt record. The
 * caller decides the response: 401 with `WWW-Authenticate` (missing or bad credentials, disabled
 * login), 429 when the limiter refuses.
 *
 * Verified credentials are cached for a few minutes (AuthCache): a password hash costs ~50 ms of
 * CPU by design (scrypt), which would cap an API client at a few dozen requests per second. A hit
 * needs the same username and password (compared as a SHA-256 under a per-process random key, the
 * password itself is not kept) and the account's stored password record unchanged; it still
 * passes the rate limiter. Repeated successes from one IP and login name are recorded as a login
 * attempt at most once a minute (mox coalesces its login-attempt records too), so an API client
 * does not cost an auth.db write per request.
 */
import type { IncomingMessage } from 'node:http';
import * as crypto from 'node:crypto';
import { createHash, randomBytes } from 'node:crypto';
import type { LoginGuard } from '../auth/login.js';
import type { LoginProtocol } from '../auth/authdb.js';
import { tlsDescription } from '../auth/login.js';

export type BasicAuthResult =
  | { ok: true; account: string; username: string }
  | { ok: false; status: 401 | 429 | 500; message: string; reason: 'missing' | 'malformed' | 'badcreds' | 'disabled' | 'ratelimited' | 'error' };

/** Username and password of an `Authorization: Basic` header; undefined when absent or malformed. */
export function parseBasicAuth(header: string | undefined): { username: string; password: string } | undefined {
  if (!header) return undefined;
  const m = /^basic[ \t]+([A-Za-z0-9+/=._~-]+)[ \t]*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  // rfc7617:2 the user-id cannot contain a colon; the password may.
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** How long a verified username+password is remembered (mox caches successful logins similarly). */
export const AUTH_CACHE_TTL_MS = 5 * 60_000;
/** Most cached credentials; the oldest are dropped first. */
export const AUTH_CACHE_MAX = 10_000;
/** A cached success from the same IP and login name is recorded again after this long. */
export const AUTH_RECORD_INTERVAL_MS = 60_000;

/** One-shot SHA-256 (crypto.hash, Node ≥ 20.12; else createHash): a fraction of an HMAC's cost. */
const sha256: (data: string) => string =
  typeof (crypto as { hash?: unknown }).hash === 'function' ? (data) => crypto.hash('sha256', data, 'base64') : (data) => createHash('sha256').update(data).digest('base64');

/**
 * What identifies a stored password record for the cache: its scrypt salt and hash (a new password
 * gets a new random salt), else the whole record. Cheaper than serialising the record per request.
 */
export function passwordRecordId(record: unknown): string {
  const s = (record as { scrypt?: { salt?: unknown; hash?: unknown } } | undefined)?.scrypt;
  return typeof s?.salt === 'string' && typeof s.hash === 'string' ? `${s.salt}$${s.hash}` : JSON.stringify(record ?? null);
}

/** Successful Basic-auth verifications, keyed by SHA-256(random key, username, password). */
export class AuthCache {
  private readonly key = randomBytes(32).toString('base64');
  private readonly entries = new Map<string, { account: string; record: string; expires: number }>();
  private readonly recorded = new Map<string, number>();

  constructor(private readonly clock: () => number = Date.now) {}

  private id(username: string, password: string): string {
    // A keyed hash as a map key, never shown; the username's length keeps user/password pairs apart.
    return sha256(`${this.key}${username.length}:${username}${password}`);
  }

  /** The account if these credentials were verified recently against the same password record. */
  get(username: string, password: string, currentRecord: string): string | undefined {
    const k = this.id(username, password);
    const e = this.entries.get(k);
    if (!e) return undefined;
    if (e.expires < this.clock() || e.record !== currentRecord) {
      this.entries.delete(k);
      return undefined;
    }
    return e.account;
  }

  /** Whether a cached success of this login name from this IP should be recorded now. */
  shouldRecord(ip: string, username: string): boolean {
    const k = `${ip}\0${username}`;
    const now = this.clock();
    const last = this.recorded.get(k);
    if (last !== undefined && now - last < AUTH_RECORD_INTERVAL_MS) return false;
    if (this.recorded.size >= AUTH_CACHE_MAX) this.recorded.delete(this.recorded.keys().next().value!);
    this.recorded.delete(k);
    this.recorded.set(k, now);
    return true;
  }

  set(username: string, password: string, account: string, record: string): void {
    if (this.entries.size >= AUTH_CACHE_MAX) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(this.id(username, password), { account, record, expires: this.clock() + AUTH_CACHE_TTL_MS });
  }
}

/** Authenticate a request with HTTP Basic credentials through the shared login guard. */
export async function basicAuth(
  req: IncomingMessage,
  opts: { guard: LoginGuard; ip: string; protocol: LoginProtocol; cache?: AuthCache },
): Promise<BasicAuthResult> {
  const creds = parseBasicAuth(req.headers.authorization);
  if (!creds) {
    return { ok: false, status: 401, reason: req.headers.authorization ? 'malformed' : 'missing', message: 'use http basic auth with email address as username' };
  }
  const ctx = {
    protocol: opts.protocol,
    mechanism: 'http-basic',
    ip: opts.ip,
    localIP: req.socket.localAddress ?? null,
    tls: tlsDescription(req.socket as { encrypted?: boolean }),
    userAgent: req.headers['user-agent'] ?? null,
  };
  if (opts.cache && 'allowed' in opts.guard.checkLogin(opts.ip)) {
    const found = await opts.guard.saslLookup(creds.username);
    const record = found ? passwordRecordId(found.record) : '';
    const account = found && !found.account.loginDisabled ? opts.cache.get(creds.username, creds.password, record) : undefined;
    if (account !== undefined && account === found?.account.account) {
      opts.guard.recordSuccess(opts.ip);
      if (opts.cache.shouldRecord(opts.ip, creds.username)) opts.guard.recordAttempt(ctx, { loginName: creds.username, account, result: 'ok' });
      return { ok: true, account, username: creds.username };
    }
  }
  const outcome = await opts.guard.authenticatePassword({ ...ctx, username: creds.username, password: creds.password });
  if (outcome.ok && opts.cache) {
    const found = await opts.guard.saslLookup(creds.username);
    if (found?.account.account === outcome.account) {
      opts.cache.set(creds.username, creds.password, outcome.account, passwordRecordId(found.record));
      opts.cache.shouldRecord(opts.ip, creds.username); // authenticatePassword recorded this one
    }
  }
  if (outcome.ok) return { ok: true, account: outcome.account, username: creds.username };
  switch (outcome.reason) {
    case 'ratelimited':
      return { ok: false, status: 429, reason: 'ratelimited', message: 'too many auth attempts' };
    case 'disabled':
      return { ok: false, status: 401, reason: 'disabled', message: `login disabled: ${outcome.message}` };
    case 'error':
      return { ok: false, status: 500, reason: 'error', message: 'error verifying credentials' };
    default:
      return { ok: false, status: 401, reason: 'badcreds', message: 'use http basic auth with email address as username' };
  }
}
