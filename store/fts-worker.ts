/**
 * Worker thread of store/fts-indexer.ts: indexes accounts' new messages into their fts.db
 * (store/fts.ts indexRange), off the event loop. It keeps one read connection to each account's
 * index.db and one connection to its fts.db, closed on "forget" (account closed or removed).
 */
import { parentPort } from 'node:worker_threads';
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import Database from 'better-sqlite3';
import { indexRange } from './fts.js';
import { messagePath } from './paths.js';

export type FtsRequest =
  | { op: 'index'; account: string; dataDir: string; indexPath: string; ftsPath: string; through: number }
  | { op: 'forget'; account: string };
export type FtsReply = { op: 'index'; account: string; through: number; error?: string } | { op: 'forget'; account: string };

/**
 * Lowest scheduling priority for this thread only (Linux: /proc/thread-self names the thread id,
 * and setpriority on a thread id affects that thread). Indexing then takes the CPU the protocol
 * threads leave: under a delivery burst it falls behind and catches up when the burst ends
 * (SEARCH waits for it), instead of competing with SMTP and IMAP for the cores. Elsewhere: no-op.
 */
function lowerPriority(): void {
  try {
    const tid = Number(/task\/(\d+)$/.exec(readlinkSync('/proc/thread-self'))?.[1]);
    if (tid > 0) setPriority(tid, 19);
  } catch {
    // not Linux, or not allowed: run at normal priority
  }
}
lowerPriority();

interface Conns {
  index: Database.Database;
  fts: Database.Database;
}
const conns = new Map<string, Conns>();

function open(req: Extract<FtsRequest, { op: 'index' }>): Conns {
  let c = conns.get(req.account);
  if (c) return c;
  const index = new Database(req.indexPath, { fileMustExist: true });
  index.pragma('busy_timeout = 5000');
  const fts = new Database(req.ftsPath, { fileMustExist: true });
  fts.pragma('busy_timeout = 5000');
  // The index backs no acknowledgement: a crash loses at most work that is redone (store/fts.ts).
  fts.pragma('synchronous = NORMAL');
  c = { index, fts };
  conns.set(req.account, c);
  return c;
}

function forget(account: string): void {
  const c = conns.get(account);
  if (!c) return;
  conns.delete(account);
  for (const db of [c.index, c.fts]) {
    try {
      db.close();
    } catch {
      // already closed
    }
  }
}

// One request at a time, in order: the main side sends at most one per account at a time.
let chain: Promise<void> = Promise.resolve();
parentPort?.on('message', (req: FtsRequest) => {
  chain = chain.then(async () => {
    if (req.op === 'forget') {
      forget(req.account);
      parentPort!.postMessage({ op: 'forget', account: req.account } satisfies FtsReply);
      return;
    }
    try {
      const c = open(req);
      const through = await indexRange({ index: c.index, fts: c.fts, messagePath: (id) => messagePath(req.dataDir, req.account, id) }, req.through);
      parentPort!.postMessage({ op: 'index', account: req.account, through } satisfies FtsReply);
    } catch (err) {
      forget(req.account);
      parentPort!.postMessage({ op: 'index', account: req.account, through: -1, error: err instanceof Error ? err.message : String(err) } satisfies FtsReply);
    }
  });
});
