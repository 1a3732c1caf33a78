/**
 * Web login sessions in `<dataDir>/web.db`, so the admin and account pages keep their users
 * logged in across a restart (web/session.ts SessionStore; mox keeps account sessions in its
 * database too). A row holds the SHA-256 of the cookie token, never the token. Written at
 * synchronous=NORMAL: a session lost in a crash only means logging in again.
 */
import { join } from 'node:path';
import type { Statement } from 'better-sqlite3';
import { openDb, type Db } from '../store/db.js';
import type { SessionPersistence, StoredSession } from './session.js';

export const WEB_DB_FILE = 'web.db';

const MIGRATIONS = [
  {
    version: 1,
    sql: `
CREATE TABLE session (
  key TEXT PRIMARY KEY,          -- SHA-256 (base64url) of the cookie token
  app TEXT NOT NULL,             -- 'admin' or 'account'
  account TEXT,                  -- NULL for the admin
  loginName TEXT NOT NULL,
  csrf TEXT NOT NULL,
  created INTEGER NOT NULL,      -- unix ms
  lastUsed INTEGER NOT NULL      -- unix ms, written back at most once a minute per session
);
`,
  },
];

type Row = { key: string; account: string | null; loginName: string; csrf: string; created: number; lastUsed: number };

export class SessionDb {
  private constructor(private readonly db: Db) {}

  static open(dataDir: string): SessionDb {
    return new SessionDb(openDb(join(dataDir, WEB_DB_FILE), MIGRATIONS, { synchronous: 'NORMAL' }));
  }

  /** The persistence of one app's sessions ('admin' or 'account'). */
  forApp(app: 'admin' | 'account'): SessionPersistence {
    const load = this.db.prepare('SELECT key, account, loginName, csrf, created, lastUsed FROM session WHERE app = ?');
    const put = this.db.prepare('INSERT OR REPLACE INTO session (key, app, account, loginName, csrf, created, lastUsed) VALUES (?, ?, ?, ?, ?, ?, ?)');
    const touch = this.db.prepare('UPDATE session SET lastUsed = ? WHERE key = ? AND app = ?');
    const remove: Statement = this.db.prepare('DELETE FROM session WHERE key = ? AND app = ?');
    const removeAll = this.db.transaction((keys: readonly string[]) => {
      for (const k of keys) remove.run(k, app);
    });
    return {
      load: () =>
        (load.all(app) as Row[]).map((r): StoredSession => ({
          key: r.key,
          account: r.account ?? undefined,
          loginName: r.loginName,
          csrf: r.csrf,
          created: r.created,
          lastUsed: r.lastUsed,
        })),
      put: (s) => void put.run(s.key, app, s.account ?? null, s.loginName, s.csrf, s.created, s.lastUsed),
      touch: (key, lastUsed) => void touch.run(lastUsed, key, app),
      remove: (keys) => removeAll(keys),
    };
  }

  close(): void {
    this.db.close();
  }
}
