/**
 * Opening SQLite databases (better-sqlite3) with moxts' durability settings and numbered
 * migrations. Generic: store/ (account index.db), queue/ and webhook/ each pass their own list.
 *
 * Settings applied to every connection:
 * - journal_mode=WAL: readers never block the single writer.
 * - synchronous=FULL (default) : the WAL is fsync'd at every commit, so a committed transaction
 *   survives power loss. Anything that backs an acknowledgement (SMTP 250, IMAP OK) needs FULL.
 * - foreign_keys=ON, busy_timeout (only matters once other connections, e.g. worker readers, exist).
 *
 * Migrations are `{version, sql}` with versions 1, 2, 3, … in order. Pending migrations are applied
 * in one IMMEDIATE transaction together with `PRAGMA user_version = <last>`, so a crash during
 * migration leaves the database at the old version. A database newer than the code is refused.
 */
import Database from 'better-sqlite3';

export type Db = Database.Database;

export interface Migration {
  /** 1-based, strictly increasing without gaps. */
  version: number;
  /** SQL script (may hold several statements), or a function for data migrations. */
  sql: string | ((db: Db) => void);
}

export interface OpenDbOptions {
  /** FULL (default) for anything that backs an acknowledgement; NORMAL only for caches. */
  synchronous?: 'FULL' | 'NORMAL';
  /** How long a writer waits for a lock held by another connection. */
  busyTimeoutMs?: number;
  readonly?: boolean;
}

/** WAL file size kept after a checkpoint (bytes); larger WALs are truncated to this. */
export const WAL_SIZE_LIMIT = 64 * 1024 * 1024;

/** Default busy timeout: long enough to ride out a checkpoint by another connection. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/** Open (creating if needed) a database file and bring it to the newest migration. */
export function openDb(path: string, migrations: readonly Migration[], opts: OpenDbOptions = {}): Db {
  const db = new Database(path, { readonly: opts.readonly ?? false });
  try {
    db.pragma(`busy_timeout = ${Math.trunc(opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS)}`);
    if (!opts.readonly) {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (String(mode).toLowerCase() !== 'wal') throw new Error(`cannot enable WAL on ${path}: ${String(mode)}`);
    }
    db.pragma(`synchronous = ${opts.synchronous ?? 'FULL'}`);
    // Truncate the WAL back to this size after checkpoints, so a burst does not leave a huge file.
    if (!opts.readonly) db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT}`);
    db.pragma('foreign_keys = ON');
    if (!opts.readonly) migrate(db, migrations);
    else {
      const v = userVersion(db);
      const last = lastVersion(migrations);
      if (v !== last) throw new Error(`database ${path} at version ${v}, code expects ${last}`);
    }
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

export function userVersion(db: Db): number {
  return Number(db.pragma('user_version', { simple: true }));
}

function lastVersion(migrations: readonly Migration[]): number {
  return migrations.length ? migrations[migrations.length - 1]!.version : 0;
}

/**
 * Apply migrations newer than `PRAGMA user_version`, all in one transaction. Idempotent: calling it
 * again applies nothing. Returns the resulting version.
 */
export function migrate(db: Db, migrations: readonly Migration[]): number {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration list out of order at index ${i}: version ${m.version}`);
  });
  const target = lastVersion(migrations);
  const apply = db.transaction(() => {
    const current = userVersion(db);
    if (current > target) throw new Error(`database version ${current} is newer than this code (${target})`);
    for (const m of migrations) {
      if (m.version <= current) continue;
      if (typeof m.sql === 'string') db.exec(m.sql);
      else m.sql(db);
    }
    if (current !== target) db.pragma(`user_version = ${target}`);
  });
  apply.immediate();
  return userVersion(db);
}
