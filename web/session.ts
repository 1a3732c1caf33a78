/**
 * Login sessions of the admin and account pages. A session is found by the random token in its
 * cookie; each has its own CSRF token, sent back in a hidden field of every form. Limits follow
 * mox: admin sessions expire after 12 h without use and at most 10 exist; account sessions after
 * 24 h, at most 100 per account (the least recently used goes first).
 *
 * With a persistence (web/session-db.ts, the server passes one) sessions survive a restart, as
 * mox's account sessions do (we keep admin sessions too). Only a SHA-256 of the cookie token is
 * stored and used as the key, so the database does not hold usable cookies. Flash messages stay
 * in memory.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export interface Flash {
  kind: 'ok' | 'error';
  text: string;
}

export interface Session {
  /** SHA-256 of the cookie token (base64url): the key in memory and in the database. */
  readonly key: string;
  /** Account name; undefined for the admin. */
  readonly account?: string;
  /** What was typed as login name (an email address; "admin" for the admin). */
  readonly loginName: string;
  readonly csrf: string;
  readonly created: number;
  lastUsed: number;
  /** Message for the next page shown (post/redirect/get). */
  flash?: Flash;
}

export interface SessionLimits {
  idleMs: number;
  /** Most sessions per account (or in all, for the admin). */
  maxPerKey: number;
}

export const ADMIN_SESSION_LIMITS: SessionLimits = { idleMs: 12 * 3600_000, maxPerKey: 10 };
export const ACCOUNT_SESSION_LIMITS: SessionLimits = { idleMs: 24 * 3600_000, maxPerKey: 100 };

export function randomToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Constant-time comparison of two tokens. */
export function tokensEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A session as persisted (web/session-db.ts). */
export interface StoredSession {
  key: string;
  account?: string;
  loginName: string;
  csrf: string;
  created: number;
  lastUsed: number;
}

/** Where a SessionStore keeps its sessions across restarts. */
export interface SessionPersistence {
  load(): StoredSession[];
  put(s: StoredSession): void;
  touch(key: string, lastUsed: number): void;
  remove(keys: readonly string[]): void;
}

/** lastUsed is written back at most this often per session (a read per page, not a write). */
export const TOUCH_EVERY_MS = 60_000;

export function sessionKey(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  /** lastUsed as last written to the persistence, by key. */
  private readonly persisted = new Map<string, number>();

  constructor(
    private readonly limits: SessionLimits,
    private readonly clock: () => number = Date.now,
    private readonly persist?: SessionPersistence,
  ) {
    if (!persist) return;
    const now = clock();
    const expired: string[] = [];
    for (const r of persist.load()) {
      if (now - r.lastUsed > limits.idleMs) {
        expired.push(r.key);
        continue;
      }
      this.sessions.set(r.key, { key: r.key, account: r.account, loginName: r.loginName, csrf: r.csrf, created: r.created, lastUsed: r.lastUsed });
      this.persisted.set(r.key, r.lastUsed);
    }
    if (expired.length) persist.remove(expired);
  }

  /** A new session and the token for its cookie (not kept anywhere: only its hash is). */
  create(s: { account?: string; loginName: string }): { session: Session; token: string } {
    const now = this.clock();
    const key = s.account ?? '';
    const mine = [...this.sessions.values()].filter((x) => (x.account ?? '') === key).sort((a, b) => a.lastUsed - b.lastUsed);
    const dropped: string[] = [];
    while (mine.length >= this.limits.maxPerKey) dropped.push(mine.shift()!.key);
    this.drop(dropped);
    const token = randomToken();
    const session: Session = { key: sessionKey(token), account: s.account, loginName: s.loginName, csrf: randomToken(), created: now, lastUsed: now };
    this.sessions.set(session.key, session);
    if (this.persist) {
      this.persist.put({ key: session.key, account: session.account, loginName: session.loginName, csrf: session.csrf, created: now, lastUsed: now });
      this.persisted.set(session.key, now);
    }
    return { session, token };
  }

  /** The live session of this cookie token (its idle timer restarts), or undefined. */
  get(token: string | undefined): Session | undefined {
    if (!token) return undefined;
    const key = sessionKey(token);
    const s = this.sessions.get(key);
    if (!s) return undefined;
    const now = this.clock();
    if (now - s.lastUsed > this.limits.idleMs) {
      this.drop([key]);
      return undefined;
    }
    s.lastUsed = now;
    if (this.persist && now - (this.persisted.get(key) ?? 0) >= TOUCH_EVERY_MS) {
      this.persist.touch(key, now);
      this.persisted.set(key, now);
    }
    return s;
  }

  /** End a session (logout). */
  delete(session: Session): void {
    this.drop([session.key]);
  }

  /** End every session of an account (password changed, account removed), except the one with key `keepKey` (the one making the change). */
  deleteFor(account: string | undefined, keepKey?: string): number {
    const keys = [...this.sessions.values()].filter((s) => s.account === account && s.key !== keepKey).map((s) => s.key);
    this.drop(keys);
    return keys.length;
  }

  private drop(keys: string[]): void {
    if (!keys.length) return;
    for (const k of keys) {
      this.sessions.delete(k);
      this.persisted.delete(k);
    }
    this.persist?.remove(keys);
  }

  get size(): number {
    return this.sessions.size;
  }
}

/** Cookies of a request (rfc6265:5.4), first value of each name. */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (name && !out.has(name)) out.set(name, value);
  }
  return out;
}

/** A Set-Cookie value (rfc6265:4.1): HttpOnly and SameSite=Strict always, Secure on HTTPS. */
export function sessionCookie(name: string, value: string, o: { path: string; secure: boolean; maxAgeSeconds?: number }): string {
  let c = `${name}=${value}; Path=${o.path}; HttpOnly; SameSite=Strict`;
  if (o.secure) c += '; Secure';
  if (o.maxAgeSeconds !== undefined) c += `; Max-Age=${o.maxAgeSeconds}`;
  return c;
}
