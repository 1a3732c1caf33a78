/**
 * Worker thread of store/checkpointer.ts: runs `PRAGMA wal_checkpoint(PASSIVE | RESTART)` for each
 * database path it is sent, on a short-lived connection of its own (open, checkpoint, close: no connection
 * is kept, so nothing here holds a removed account's files), and posts the result back.
 */
import { parentPort } from 'node:worker_threads';
import Database from 'better-sqlite3';

interface Row {
  busy: number;
  log: number;
  checkpointed: number;
}

parentPort?.on('message', (msg: { path: string; mode: 'PASSIVE' | 'RESTART' }) => {
  const t0 = performance.now();
  let db: Database.Database | undefined;
  try {
    db = new Database(msg.path, { fileMustExist: true });
    db.pragma('busy_timeout = 1000');
    // FULL: the checkpoint syncs the WAL before copying and the database file after.
    db.pragma('synchronous = FULL');
    const mode = msg.mode === 'RESTART' ? 'RESTART' : 'PASSIVE';
    const r = db.pragma(`wal_checkpoint(${mode})`) as Row[];
    const row = r[0] ?? { busy: 0, log: 0, checkpointed: 0 };
    parentPort!.postMessage({ path: msg.path, mode, busy: row.busy !== 0, log: row.log, checkpointed: row.checkpointed, ms: performance.now() - t0 });
  } catch (err) {
    parentPort!.postMessage({ path: msg.path, busy: false, log: -1, checkpointed: -1, ms: performance.now() - t0, error: err instanceof Error ? err.message : String(err) });
  } finally {
    try {
      db?.close();
    } catch {
      // closing a connection that failed to open
    }
  }
});
