/**
 * fdatasync of an account database's write-ahead log on the libuv thread pool, so the delivery
 * group commit does not block the event loop on a WAL fsync (store/README.md "Group commit" and
 * "Why synchronous=NORMAL + our own WAL fdatasync is as durable as FULL").
 *
 * Delivery batches are committed with `PRAGMA synchronous = NORMAL`: SQLite appends the frames
 * (and the commit frame) to `index.db-wal` with write(2) but does not fsync. Then `sync()`
 * fdatasyncs that same file (same inode, through our own long-lived descriptor: fdatasync flushes
 * the inode's dirty pages whichever descriptor wrote them). When it resolves, every frame written
 * before the call, so the whole committed transaction and everything before it in the log, is on
 * stable storage: exactly what synchronous=FULL would have done inside COMMIT.
 *
 * The WAL file keeps its inode while the connection is open (a WAL "restart" after a checkpoint
 * rewrites it from the start, journal_size_limit truncates it; neither replaces the file). It is
 * only deleted when the last connection closes, and we hold ours open. Still, `sync()` is called
 * right after the commit and first stats the path (synchronously: a few microseconds, cheaper
 * than a thread-pool round trip): if the file there is not the one our descriptor refers to, it
 * opens the current one, which is the file the commit wrote to, and syncs that.
 */
import { promises as fsp, statSync, fdatasync, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

export class WalSyncer {
  private fh: FileHandle | null = null;
  private ino = -1;
  private dev = -1;
  private closed = false;

  constructor(readonly walPath: string) {}

  /**
   * Make everything written to the WAL file so far durable. Call it right after the commit, in
   * the same synchronous step: the path is checked before the first await.
   */
  sync(): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`wal syncer for ${this.walPath} is closed`));
    let st: Stats;
    try {
      st = statSync(this.walPath);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.fh && this.same(st)) return datasync(this.fh.fd);
    // First use, or replaced since we opened it (not expected while our connection is open).
    return this.open().then(() => datasync(this.fh!.fd));
  }

  private same(st: Stats): boolean {
    return st.ino === this.ino && st.dev === this.dev;
  }

  private async open(): Promise<void> {
    const old = this.fh;
    this.fh = null;
    if (old) await old.close().catch(() => {});
    // fdatasync works on a read-only descriptor (Linux, macOS); we never write through it.
    const fh = await fsp.open(this.walPath, 'r');
    try {
      const st = await fh.stat();
      this.ino = st.ino;
      this.dev = st.dev;
    } catch (err) {
      await fh.close().catch(() => {});
      throw err;
    }
    if (this.closed) {
      await fh.close().catch(() => {});
      throw new Error(`wal syncer for ${this.walPath} is closed`);
    }
    this.fh = fh;
  }

  /** Close the descriptor; only once every sync() settled (the account closes after its batches). */
  async close(): Promise<void> {
    this.closed = true;
    const fh = this.fh;
    this.fh = null;
    if (fh) await fh.close().catch(() => {});
  }
}

/**
 * fdatasync on the thread pool through the callback API: the same syscall as
 * FileHandle.datasync() with less per-call work on the event loop (one per delivery batch).
 */
function datasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}
