/**
 * Logins for every protocol: the failed-login limiter shared by SMTP submission, IMAP, webapi and
 * the web UIs (mox §9.2), password checks for username+password logins, and the login-attempt
 * record in auth.db.
 *
 * Flow for a protocol:
 * 1. `checkLogin(ip)` before any password work; when rate limited, refuse (SMTP `421 4.7.0`, IMAP
 *    refuses/closes, HTTP 429) and record it (`recordSaslResult(ctx, {ratelimited: true})`, or
 *    just call `authenticatePassword`, which does all of it).
 * 2. Username+password (IMAP LOGIN, HTTP Basic): `authenticatePassword(…)`.
 *    SASL: `startSasl(mechanism, …)`, run the steps, then `recordSaslResult(ctx, finalStep)`.
 * 3. Both return `{ok: true, account}` or `{ok: false, reason}`. A failure with wrong credentials
 *    has already counted toward the limiter and waited the failure delay (1 s, mox's habit) before
 *    the promise resolves; a success has reset the IP's counts.
 *
 * A LoginDisabled account fails with 'disabled' only after the right password was given (so the
 * message, which the admin wrote for the user, does not tell others the account exists); it
 * counts neither as a failure nor as a success for the limiter.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../log/logger.js';
import type { AuthDb, LoginProtocol, LoginResult } from './authdb.js';
import { verifyPassword, type PasswordRecord } from './password.js';
import { RateLimiter, type WindowLimit } from './ratelimit.js';
import { fakeRecord, startSasl, type ChannelBinding, type SaslSession, type SaslStep } from './sasl.js';

/** mox: 10/30/90 failed logins per minute and 50/150/450 per day per IP class (/32,/26,/21; /64,/48,/32). */
export const FAILED_LOGIN_LIMITS: readonly WindowLimit[] = [
  { windowMs: 60_000, max: [10, 30, 90] },
  { windowMs: 24 * 3600_000, max: [50, 150, 450] },
];

/** Delay after each failed login (mox: 1 s), slowing down guessing on one connection. */
export const FAILED_LOGIN_DELAY_MS = 1000;

export interface LoginAccount {
  /** Account name. */
  account: string;
  record: PasswordRecord;
  /** Set when the account may not log in; the text is shown to the user after a right password. */
  loginDisabled?: string;
}

/** Resolve a login name (an email address) to its account; undefined when there is none. */
export type LookupAccount = (username: string) => Promise<LoginAccount | undefined>;

/** Where and how a login happens, for the limiter and the attempt record. */
export interface LoginContext {
  protocol: LoginProtocol;
  /** PLAIN, LOGIN, SCRAM-SHA-256, …; for non-SASL logins e.g. "imap-login", "http-basic". */
  mechanism: string;
  /** Remote IP. */
  ip: string;
  localIP?: string | null;
  /** TLS description ("TLSv1.3 TLS_AES_128_GCM_SHA256", see tlsDescription), null without TLS. */
  tls?: string | null;
  /** HTTP User-Agent, IMAP ID name/version. */
  userAgent?: string | null;
}

export type LoginFailure = 'badcreds' | 'disabled' | 'ratelimited' | 'malformed' | 'aborted' | 'tlsrequired' | 'unsupported' | 'error';

export type LoginOutcome =
  | { ok: true; account: string }
  /** message: for 'disabled' the account's LoginDisabled text, else a generic text safe to show. */
  | { ok: false; reason: LoginFailure; message: string };

export interface LoginGuardOptions {
  lookupAccount: LookupAccount;
  /** Where attempts are recorded; without it nothing is recorded. */
  authDb?: AuthDb;
  clock?: () => number;
  /** Default FAILED_LOGIN_DELAY_MS; tests use 0. */
  failureDelayMs?: number;
  /** How to wait the failure delay (tests can inject). */
  sleep?: (ms: number) => Promise<void>;
  log?: Logger;
  limits?: readonly WindowLimit[];
}

/** "TLSv1.3 TLS_AES_128_GCM_SHA256" for a TLS socket, null for a plain one. */
export function tlsDescription(socket: { encrypted?: boolean } | TLSSocket | undefined | null): string | null {
  const s = socket as TLSSocket | undefined | null;
  if (!s || !s.encrypted || typeof s.getProtocol !== 'function') return null;
  const cipher = s.getCipher?.();
  return [s.getProtocol(), cipher?.standardName ?? cipher?.name].filter(Boolean).join(' ') || 'TLS';
}

const MESSAGES: Record<LoginFailure, string> = {
  badcreds: 'invalid credentials',
  disabled: 'login disabled',
  ratelimited: 'too many authentication failures',
  malformed: 'malformed authentication',
  aborted: 'authentication aborted',
  tlsrequired: 'TLS required for this mechanism',
  unsupported: 'mechanism not supported',
  error: 'temporary server error',
};

/** Attempt-record result for a failure reason. */
function attemptResult(r: LoginFailure): LoginResult {
  switch (r) {
    case 'tlsrequired':
    case 'unsupported':
      return 'malformed';
    default:
      return r;
  }
}

export class LoginGuard {
  readonly limiter: RateLimiter;
  private readonly opts: LoginGuardOptions;
  private readonly clock: () => number;

  constructor(opts: LoginGuardOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? Date.now;
    this.limiter = new RateLimiter(opts.limits ?? FAILED_LOGIN_LIMITS, this.clock);
  }

  /** Before any password work: may this IP try to log in? */
  checkLogin(ip: string): { allowed: true } | { ratelimited: true } {
    return this.limiter.canAdd(ip, 1) ? { allowed: true } : { ratelimited: true };
  }

  /** Count a failed login for ip; the returned promise resolves after the failure delay. */
  recordFailure(ip: string): Promise<void> {
    this.limiter.add(ip, 1);
    const ms = this.opts.failureDelayMs ?? FAILED_LOGIN_DELAY_MS;
    if (ms <= 0) return Promise.resolve();
    return (this.opts.sleep ?? ((n: number) => sleep(n).then(() => undefined)))(ms);
  }

  /** A successful login resets the IP's failure counts. */
  recordSuccess(ip: string): void {
    this.limiter.reset(ip);
  }

  /** Store a login attempt; storage errors are logged, never thrown into a protocol. */
  recordAttempt(ctx: LoginContext, a: { loginName: string; account?: string | null; result: LoginResult }): void {
    const db = this.opts.authDb;
    if (!db) return;
    try {
      db.addAttempt({
        time: this.clock(),
        protocol: ctx.protocol,
        mechanism: ctx.mechanism,
        remoteIP: ctx.ip,
        localIP: ctx.localIP ?? null,
        tls: ctx.tls ?? null,
        userAgent: ctx.userAgent ?? null,
        loginName: a.loginName,
        account: a.account ?? null,
        result: a.result,
      });
    } catch (err) {
      this.opts.log?.error({ err, protocol: ctx.protocol, ip: ctx.ip }, 'storing login attempt');
    }
  }

  /** Lookup in the shape startSasl wants: the SASL "account" is the whole LoginAccount. */
  readonly saslLookup = async (username: string): Promise<{ account: LoginAccount; record: PasswordRecord } | undefined> => {
    const a = await this.opts.lookupAccount(username);
    return a ? { account: a, record: a.record } : undefined;
  };

  /** Start a SASL exchange with this guard's account lookup (call checkLogin first). */
  startSasl(
    mechanism: string,
    o: { tls: boolean; allowPlaintextWithoutTls?: boolean; channelBinding?: ChannelBinding; nonce?: () => string },
  ): SaslSession<LoginAccount> {
    return startSasl<LoginAccount>(mechanism, { ...o, lookup: this.saslLookup });
  }

  /**
   * Username+password login (IMAP LOGIN, webapi/HTTP Basic): rate limit check, password check
   * (a fake one for unknown users), LoginDisabled, limiter update, failure delay, attempt record.
   */
  async authenticatePassword(ctx: LoginContext & { username: string; password: string }): Promise<LoginOutcome> {
    const loginName = ctx.username;
    if ('ratelimited' in this.checkLogin(ctx.ip)) return this.finish(ctx, loginName, undefined, 'ratelimited');
    let found: LoginAccount | undefined;
    let ok: boolean;
    try {
      found = await this.opts.lookupAccount(ctx.username);
      ok = await verifyPassword(found?.record ?? fakeRecord(), ctx.password);
    } catch (err) {
      this.opts.log?.error({ err, protocol: ctx.protocol, ip: ctx.ip }, 'password login');
      return this.finish(ctx, loginName, found?.account, 'error');
    }
    if (!ok || !found) return this.finish(ctx, loginName, found?.account, 'badcreds');
    return this.succeed(ctx, loginName, found);
  }

  /**
   * Record the end of a SASL exchange (its last step, done or failed), or a refusal because of the
   * rate limit; applies LoginDisabled, updates the limiter and waits the failure delay.
   */
  async recordSaslResult(
    ctx: LoginContext & { username?: string },
    result: Exclude<SaslStep<LoginAccount>, { challenge: Buffer }> | { ratelimited: true },
  ): Promise<LoginOutcome> {
    if ('ratelimited' in result) return this.finish(ctx, ctx.username ?? '', undefined, 'ratelimited');
    if ('done' in result) return this.succeed(ctx, result.username, result.account);
    if (result.reason === 'error') this.opts.log?.error({ err: result.error, protocol: ctx.protocol, ip: ctx.ip }, 'sasl login');
    return this.finish(ctx, result.username ?? ctx.username ?? '', result.account?.account, result.reason);
  }

  private succeed(ctx: LoginContext, loginName: string, a: LoginAccount): LoginOutcome {
    if (a.loginDisabled !== undefined && a.loginDisabled !== '') {
      this.recordAttempt(ctx, { loginName, account: a.account, result: 'disabled' });
      return { ok: false, reason: 'disabled', message: a.loginDisabled };
    }
    this.recordSuccess(ctx.ip);
    this.recordAttempt(ctx, { loginName, account: a.account, result: 'ok' });
    return { ok: true, account: a.account };
  }

  private async finish(ctx: LoginContext, loginName: string, account: string | undefined, reason: LoginFailure): Promise<LoginOutcome> {
    this.recordAttempt(ctx, { loginName, account: account ?? null, result: attemptResult(reason) });
    if (reason === 'badcreds') await this.recordFailure(ctx.ip);
    return { ok: false, reason, message: MESSAGES[reason] };
  }
}
