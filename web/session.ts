/**
 * Login sessions of the admin and account pages, kept in memory (a restart logs everyone out, as
 * mox's admin sessions). A session is found by the random id in its cookie; each has its own CSRF
 * token, sent back in a hidden field of every form. Limits follow mox: admin sessions expire after
 * 12 h without use and at most 10 exist; account sessions after 24 h, at most 100 per account
 * (the least recently used goes first).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

export interface Flash {
  kind: 'ok' | 'error';
  text: string;
}

export interface Session {
  readonly id: string;
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

export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly limits: SessionLimits,
    private readonly clock: () => number = Date.now,
  ) {}

  create(s: { account?: string; loginName: string }): Session {
    const now = this.clock();
    const key = s.account ?? '';
    const mine = [...this.sessions.values()].filter((x) => (x.account ?? '') === key).sort((a, b) => a.lastUsed - b.lastUsed);
    while (mine.length >= this.limits.maxPerKey) this.sessions.delete(mine.shift()!.id);
    const session: Session = { id: randomToken(), account: s.account, loginName: s.loginName, csrf: randomToken(), created: now, lastUsed: now };
    this.sessions.set(session.id, session);
    return session;
  }

  /** The live session with this id (its idle timer restarts), or undefined. */
  get(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const s = this.sessions.get(id);
    if (!s) return undefined;
    const now = this.clock();
    if (now - s.lastUsed > this.limits.idleMs) {
      this.sessions.delete(id);
      return undefined;
    }
    s.lastUsed = now;
    return s;
  }

  delete(id: string): void {
    this.sessions.delete(id);
  }

  /** End every session of an account (password changed, account removed), except `keepId` (the one making the change). */
  deleteFor(account: string | undefined, keepId?: string): number {
    let n = 0;
    for (const s of [...this.sessions.values()]) {
      if (s.account === account && s.id !== keepId) {
        this.sessions.delete(s.id);
        n++;
      }
    }
    return n;
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
