/**
 * Web login sessions in auth.db's `web_session` table (DESIGN §4; migration in auth/authdb.ts), so
 * the admin and account pages keep their users logged in across a restart (web/session.ts
 * SessionStore; mox keeps account sessions in its database too). A row holds the SHA-256 of the
 * cookie token, never the token. auth.db runs at synchronous=NORMAL: a session lost in a crash
 * only means logging in again.
 */
import type { Db } from '../store/db.js';
import type { SessionPersistence, StoredSession } from './session.js';

type Row = { key: string; account: string | null; login_name: string; csrf: string; created: number; last_used: number };

/** The persistence of one app's sessions ('admin' or 'account') in auth.db. */
export function sessionPersistence(db: Db, app: 'admin' | 'account'): SessionPersistence {
  const load = db.prepare('SELECT key, account, login_name, csrf, created, last_used FROM web_session WHERE app = ?');
  const put = db.prepare('INSERT OR REPLACE INTO web_session (key, app, account, login_name, csrf, created, last_used) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const touch = db.prepare('UPDATE web_session SET last_used = ? WHERE key = ? AND app = ?');
  const remove = db.prepare('DELETE FROM web_session WHERE key = ? AND app = ?');
  const removeAll = db.transaction((keys: readonly string[]) => {
    for (const k of keys) remove.run(k, app);
  });
  return {
    load: () =>
      (load.all(app) as Row[]).map((r): StoredSession => ({
        key: r.key,
        account: r.account ?? undefined,
        loginName: r.login_name,
        csrf: r.csrf,
        created: r.created,
        lastUsed: r.last_used,
      })),
    put: (s) => void put.run(s.key, app, s.account ?? null, s.loginName, s.csrf, s.created, s.lastUsed),
    touch: (key, lastUsed) => void touch.run(lastUsed, key, app),
    remove: (keys) => removeAll(keys),
  };
}
