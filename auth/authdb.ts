/**
 * auth.db in the data dir (DESIGN §4): login attempts, and the web pages' login sessions (table
 * web_session, used by web/session-db.ts).
 *
 * Every login attempt, by any protocol and with any result, is one row, kept 30 days as in mox
 * (§9.2) and shown in the account and admin UIs. Rows back no acknowledgement, so the database runs
 * with synchronous=NORMAL: a commit is not fsync'd (the WAL is synced at checkpoints), and a power
 * loss may lose the last attempts, never corrupt the file. That keeps an insert per attempt cheap
 * even during a password-guessing run (which the failed-login limiter bounds anyway).
 */
import { join } from 'node:path';
import { openDb, type Db, type Migration } from '../store/db.js';

export const AUTH_DB_FILE = 'auth.db';

/** How long login attempts are kept (mox: 30 days). */
export const LOGIN_ATTEMPT_RETENTION_MS = 30 * 24 * 3600 * 1000;

/** Rows deleted per transaction by cleanup, so a large backlog never holds the write lock long. */
const CLEANUP_BATCH = 5000;

/** How often the server should call cleanup (hourly, as mox). */
export const AUTH_CLEANUP_INTERVAL_MS = 3600 * 1000;

export const AUTH_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE login_attempt (
        id INTEGER PRIMARY KEY,
        time INTEGER NOT NULL,          -- ms since epoch
        protocol TEXT NOT NULL,         -- smtp-submission, imap, webapi, web (account/admin/webmail)
        mechanism TEXT NOT NULL,        -- PLAIN, LOGIN, SCRAM-SHA-256, …, imap-login, http-basic, web-password
        remote_ip TEXT NOT NULL,
        local_ip TEXT,
        tls TEXT,                       -- e.g. "TLSv1.3 TLS_AES_128_GCM_SHA256"; NULL without TLS
        account TEXT,                   -- when the login name belongs to one (also for wrong passwords)
        login_name TEXT NOT NULL,       -- as given by the client ('' when it never got that far)
        user_agent TEXT,                -- HTTP User-Agent or IMAP ID name/version
        result TEXT NOT NULL CHECK (result IN ('ok', 'badcreds', 'disabled', 'ratelimited', 'malformed', 'aborted', 'error'))
      );
      CREATE INDEX login_attempt_time ON login_attempt (time, id);
      CREATE INDEX login_attempt_account ON login_attempt (account, time, id);
    `,
  },
  {
    version: 2,
    sql: `
      -- Login sessions of the admin and account pages (web/session-db.ts), so a restart logs no
      -- one out. The key is a SHA-256 of the cookie token: the table holds no usable cookie.
      CREATE TABLE web_session (
        key TEXT PRIMARY KEY,           -- SHA-256 (base64url) of the cookie token
        app TEXT NOT NULL,              -- 'admin' or 'account'
        account TEXT,                   -- NULL for the admin
        login_name TEXT NOT NULL,
        csrf TEXT NOT NULL,
        created INTEGER NOT NULL,       -- ms since epoch
        last_used INTEGER NOT NULL      -- ms since epoch, written back at most once a minute per session
      );
    `,
  },
];

export type LoginProtocol = 'smtp-submission' | 'imap' | 'webapi' | 'web' | (string & {});

export type LoginResult = 'ok' | 'badcreds' | 'disabled' | 'ratelimited' | 'malformed' | 'aborted' | 'error';

export interface LoginAttempt {
  id: number;
  /** ms since epoch */
  time: number;
  protocol: LoginProtocol;
  mechanism: string;
  remoteIP: string;
  localIP: string | null;
  tls: string | null;
  account: string | null;
  loginName: string;
  userAgent: string | null;
  result: LoginResult;
}

export type NewLoginAttempt = Omit<LoginAttempt, 'id' | 'time' | 'localIP' | 'tls' | 'account' | 'userAgent'> & {
  /** Default: the AuthDb clock. */
  time?: number;
  localIP?: string | null;
  tls?: string | null;
  account?: string | null;
  userAgent?: string | null;
};

/** Keyset cursor: attempts strictly older than this (time, id), newest first. */
export interface AttemptCursor {
  time: number;
  id: number;
}

export interface AttemptQuery {
  /** Only this account's attempts. */
  account?: string;
  /** Default 100, at most 1000. */
  limit?: number;
  /** Continue after the last attempt of the previous page (its `next`). */
  before?: AttemptCursor;
}

export interface AttemptPage {
  attempts: LoginAttempt[];
  /** Cursor for the next page, absent on the last page. */
  next?: AttemptCursor;
}

export interface AuthDbOptions {
  clock?: () => number;
}

interface Row {
  id: number;
  time: number;
  protocol: string;
  mechanism: string;
  remote_ip: string;
  local_ip: string | null;
  tls: string | null;
  account: string | null;
  login_name: string;
  user_agent: string | null;
  result: string;
}

/** Cap on stored free-text fields given by clients (login name, user agent). */
const MAX_FIELD = 256;
function cap(s: string | null | undefined): string | null {
  if (s === undefined || s === null) return null;
  return s.length > MAX_FIELD ? s.slice(0, MAX_FIELD) : s;
}

export class AuthDb {
  readonly db: Db;
  private readonly clock: () => number;
  private readonly insertStmt;
  private readonly cleanupStmt;

  constructor(path: string, opts: AuthDbOptions = {}) {
    this.db = openDb(path, AUTH_MIGRATIONS, { synchronous: 'NORMAL' });
    this.clock = opts.clock ?? Date.now;
    this.insertStmt = this.db.prepare(
      `INSERT INTO login_attempt (time, protocol, mechanism, remote_ip, local_ip, tls, account, login_name, user_agent, result)
       VALUES (@time, @protocol, @mechanism, @remote_ip, @local_ip, @tls, @account, @login_name, @user_agent, @result)`,
    );
    this.cleanupStmt = this.db.prepare(`DELETE FROM login_attempt WHERE id IN (SELECT id FROM login_attempt WHERE time < ? LIMIT ${CLEANUP_BATCH})`);
  }

  /** Open `<dataDir>/auth.db`, creating and migrating it as needed. */
  static open(dataDir: string, opts: AuthDbOptions = {}): AuthDb {
    return new AuthDb(join(dataDir, AUTH_DB_FILE), opts);
  }

  /** Store one attempt; returns its id. */
  addAttempt(a: NewLoginAttempt): number {
    const info = this.insertStmt.run({
      time: a.time ?? this.clock(),
      protocol: a.protocol,
      mechanism: a.mechanism,
      remote_ip: a.remoteIP,
      local_ip: a.localIP ?? null,
      tls: a.tls ?? null,
      account: a.account ?? null,
      login_name: cap(a.loginName) ?? '',
      user_agent: cap(a.userAgent),
      result: a.result,
    });
    return Number(info.lastInsertRowid);
  }

  /** Attempts newest first, all or one account's, a page at a time (keyset on time, id). */
  recentAttempts(q: AttemptQuery = {}): AttemptPage {
    const limit = Math.min(Math.max(1, Math.trunc(q.limit ?? 100)), 1000);
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (q.account !== undefined) {
      where.push('account = ?');
      args.push(q.account);
    }
    if (q.before) {
      where.push('(time < ? OR (time = ? AND id < ?))');
      args.push(q.before.time, q.before.time, q.before.id);
    }
    const sql = `SELECT * FROM login_attempt ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY time DESC, id DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...args, limit + 1) as Row[];
    const more = rows.length > limit;
    const attempts = rows.slice(0, limit).map(fromRow);
    const last = attempts[attempts.length - 1];
    return more && last ? { attempts, next: { time: last.time, id: last.id } } : { attempts };
  }

  /** Delete attempts older than 30 days; returns how many. The server calls this hourly. */
  cleanup(now = this.clock()): number {
    const cutoff = now - LOGIN_ATTEMPT_RETENTION_MS;
    let total = 0;
    for (;;) {
      const n = this.cleanupStmt.run(cutoff).changes;
      total += n;
      if (n < CLEANUP_BATCH) return total;
    }
  }

  /** Run cleanup now and then every hour (timer unref'd); returns a stop function. */
  scheduleCleanup(intervalMs = AUTH_CLEANUP_INTERVAL_MS, onError?: (err: unknown) => void): () => void {
    const run = () => {
      try {
        this.cleanup();
      } catch (err) {
        onError?.(err);
      }
    };
    run();
    const t = setInterval(run, intervalMs);
    t.unref();
    return () => clearInterval(t);
  }

  close(): void {
    this.db.close();
  }
}

function fromRow(r: Row): LoginAttempt {
  return {
    id: r.id,
    time: r.time,
    protocol: r.protocol,
    mechanism: r.mechanism,
    remoteIP: r.remote_ip,
    localIP: r.local_ip,
    tls: r.tls,
    account: r.account,
    loginName: r.login_name,
    userAgent: r.user_agent,
    result: r.result as LoginResult,
  };
}
