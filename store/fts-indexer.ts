/**
 * Main-thread side of full-text indexing (store/fts.ts): sends "index account X through id N"
 * to the worker thread (store/fts-worker.ts) and resolves when it is done. Requests for one
 * account coalesce: while one runs, later ones wait for one more run with the highest id asked.
 * If the worker cannot run, `available` turns false and accounts index on the event loop instead
 * (same code, store/fts.ts indexRange), so search keeps working.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '../log/logger.js';
import { nullLogger } from '../log/logger.js';
import type { FtsReply, FtsRequest } from './fts-worker.js';

export interface IndexJob {
  account: string;
  dataDir: string;
  indexPath: string;
  ftsPath: string;
  through: number;
}

interface State {
  current: Array<{ resolve: (n: number) => void; reject: (e: Error) => void }>;
  next: { job: IndexJob; waiters: Array<{ resolve: (n: number) => void; reject: (e: Error) => void }> } | null;
}

export class FtsIndexer {
  private worker: Worker | null = null;
  private failed: Error | null = null;
  private closed = false;
  private readonly jobs = new Map<string, State>();
  private readonly forgets = new Map<string, Array<() => void>>();
  private readonly log: Logger;

  constructor(opts: { log?: Logger } = {}) {
    this.log = opts.log ?? nullLogger();
  }

  get available(): boolean {
    return !this.failed && !this.closed;
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL('./fts-worker.js', import.meta.url));
    w.unref();
    w.on('message', (r: FtsReply) => this.reply(r));
    w.on('error', (err) => this.fail(err));
    w.on('exit', (code) => {
      if (!this.closed) this.fail(new Error(`full-text index worker exited with code ${code}`));
    });
    this.worker = w;
    return w;
  }

  private fail(err: Error): void {
    if (this.failed || this.closed) return;
    this.failed = err;
    this.worker = null;
    this.log.error({ err }, 'full-text index worker failed; indexing on the main thread');
    for (const s of this.jobs.values()) for (const w of [...s.current, ...(s.next?.waiters ?? [])]) w.reject(err);
    this.jobs.clear();
    for (const ws of this.forgets.values()) for (const w of ws) w();
    this.forgets.clear();
  }

  private send(req: FtsRequest): void {
    try {
      this.start().postMessage(req);
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Index the account's messages up to job.through; resolves with the new watermark. */
  index(job: IndexJob): Promise<number> {
    return new Promise((resolve, reject) => {
      if (!this.available) return reject(this.failed ?? new Error('full-text indexer closed'));
      const s = this.jobs.get(job.account);
      if (s) {
        if (!s.next) s.next = { job, waiters: [] };
        else if (job.through > s.next.job.through) s.next.job = job;
        s.next.waiters.push({ resolve, reject });
        return;
      }
      this.jobs.set(job.account, { current: [{ resolve, reject }], next: null });
      this.send({ op: 'index', ...job });
    });
  }

  /** Close the worker's connections for an account (before closing or removing it). */
  forget(account: string): Promise<void> {
    if (!this.worker || !this.available) return Promise.resolve();
    return new Promise((resolve) => {
      const ws = this.forgets.get(account);
      if (ws) ws.push(resolve);
      else this.forgets.set(account, [resolve]);
      this.send({ op: 'forget', account });
    });
  }

  private reply(r: FtsReply): void {
    if (r.op === 'forget') {
      const ws = this.forgets.get(r.account) ?? [];
      this.forgets.delete(r.account);
      for (const w of ws) w();
      return;
    }
    const s = this.jobs.get(r.account);
    if (!s) return;
    const waiters = s.current;
    if (s.next && this.available) {
      s.current = s.next.waiters;
      const job = s.next.job;
      s.next = null;
      this.send({ op: 'index', ...job });
    } else {
      for (const w of s.next?.waiters ?? []) waiters.push(w);
      this.jobs.delete(r.account);
    }
    if (r.error) {
      this.log.warn({ account: r.account, error: r.error }, 'full-text indexing failed');
      const err = new Error(r.error);
      for (const w of waiters) w.reject(err);
    } else for (const w of waiters) w.resolve(r.through);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Let running jobs finish (their waiters resolve), then stop the worker.
    await Promise.all(
      [...this.jobs.values()].map((s) => new Promise<void>((r) => s.current.push({ resolve: () => r(), reject: () => r() }))),
    );
    this.closed = true;
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }
}
