/**
 * Where DATA goes while it arrives. Messages up to SPILL_THRESHOLD stay in memory (the common
 * case: a few KiB, which then cost no extra file I/O); as soon as a message grows past it, what
 * was buffered and everything after is streamed to a temp file, so memory per connection stays
 * bounded whatever the message size. Bytes beyond the size limit are counted but not kept.
 * The temp file is removed by discard(), which the session calls on every path, including a
 * client that disconnects mid-DATA.
 */
import { createWriteStream, createReadStream, type WriteStream } from 'node:fs';
import { rm, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

/** Largest message kept in memory during DATA; larger ones go to a temp file. */
export const SPILL_THRESHOLD = 256 * 1024;

export interface ReceivedMessage {
  /** Bytes received (after dot-unstuffing), including any beyond the size limit. */
  readonly size: number;
  readonly tooBig: boolean;
  /** The message when kept in memory. */
  readonly buffer?: Buffer;
  /** The temp file holding the message otherwise (owned by the sink; do not remove). */
  readonly path?: string;
  /** Stream the message bytes. */
  stream(): Readable;
  /** The whole message in memory (reads the file when spilled; for callers that need it whole). */
  readAll(): Promise<Buffer>;
}

export class MessageSink {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private size = 0;
  private tooBig = false;
  private file: WriteStream | undefined;
  private filePath: string | undefined;
  private fileError: Error | undefined;
  private waitingDrain = false;
  private discarded = false;

  constructor(private readonly opts: { tmpDir: string; maxSize: number; spillThreshold?: number }) {}

  get needsDrain(): boolean {
    return this.waitingDrain;
  }

  write(b: Buffer): void {
    this.size += b.length;
    if (this.tooBig) return;
    if (this.size > this.opts.maxSize) {
      // rfc1870:6.3 keep reading to the end of data, but stop storing.
      this.tooBig = true;
      this.chunks = [];
      this.buffered = 0;
      return;
    }
    if (!this.file && this.buffered + b.length <= (this.opts.spillThreshold ?? SPILL_THRESHOLD)) {
      this.chunks.push(b);
      this.buffered += b.length;
      return;
    }
    if (!this.file) this.openFile();
    if (!this.file!.write(b)) this.waitingDrain = true;
  }

  private openFile(): void {
    this.filePath = join(this.opts.tmpDir, `smtp-${Date.now()}-${randomBytes(6).toString('hex')}`);
    const f = createWriteStream(this.filePath, { flags: 'wx', mode: 0o600 });
    f.on('error', (e) => (this.fileError = e));
    for (const c of this.chunks) f.write(c);
    this.chunks = [];
    this.buffered = 0;
    this.file = f;
  }

  /** Resolves when the temp file can take more data. */
  drained(): Promise<void> {
    const f = this.file;
    if (!f || !this.waitingDrain) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        f.off('error', fail);
        this.waitingDrain = false;
        resolve();
      };
      const fail = (e: Error) => {
        f.off('drain', done);
        reject(e);
      };
      f.once('drain', done);
      f.once('error', fail);
    });
  }

  /** The message is complete: flush the temp file (not fsync'd: the store syncs what it keeps). */
  async finish(): Promise<ReceivedMessage> {
    if (this.file) {
      const f = this.file;
      await new Promise<void>((resolve, reject) => {
        if (this.fileError) return reject(this.fileError);
        f.end((err?: Error | null) => (err ? reject(err) : resolve()));
      });
      if (this.fileError) throw this.fileError;
    }
    const size = this.size;
    const tooBig = this.tooBig;
    const path = this.file ? this.filePath : undefined;
    const buffer = this.file || tooBig ? undefined : this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    return {
      size,
      tooBig,
      buffer,
      path,
      stream: () => (path ? createReadStream(path) : Readable.from([buffer ?? Buffer.alloc(0)])),
      readAll: async () => {
        if (buffer) return buffer;
        if (!path) return Buffer.alloc(0);
        const parts: Buffer[] = [];
        for await (const c of createReadStream(path)) parts.push(c as Buffer);
        return Buffer.concat(parts);
      },
    };
  }

  /** Remove the temp file, if any. Safe to call more than once. */
  async discard(): Promise<void> {
    if (this.discarded) return;
    this.discarded = true;
    this.chunks = [];
    if (this.file) {
      this.file.destroy();
      await rm(this.filePath!, { force: true }).catch(() => {});
    }
  }
}

export async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
}
