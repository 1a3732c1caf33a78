/**
 * The full-text index of an account, in its own database `fts.db` beside `index.db`, filled in a
 * worker thread (store/fts-worker.ts) so that neither the trigram tokenising nor the index writes
 * run on the event loop or hold index.db's write lock (a delivery burst at 1,500 messages/s
 * would otherwise spend a third of its time indexing).
 *
 * - `message_text`: FTS5, contentless with delete support, rowid = message id, columns header and
 *   body, trigram tokens (IMAP SEARCH is a case-insensitive substring match, rfc9051:6.4.4).
 * - `state.indexedThrough`: every live message with id ≤ this is in the index. Message ids only
 *   grow, so one number is the whole indexing state, and it commits in the same transaction as
 *   the entries it covers: after a crash the index and its watermark agree (the index backs no
 *   acknowledgement; it commits at synchronous=NORMAL and lost work is simply redone).
 * - Expunged messages may keep their entries: searches intersect with the live messages anyway.
 *   `indexRange` deletes the entries of messages it finds expunged in its range.
 */
import { openSync, readSync, closeSync } from 'node:fs';
import type { Statement } from 'better-sqlite3';
import type { Db } from './db.js';
import type { Migration } from './db.js';
import { messageText, INDEX_BATCH } from './textindex.js';
import type { Part } from '../message/part.js';

export const FTS_DB_FILE = 'fts.db';

export const FTS_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
CREATE VIRTUAL TABLE message_text USING fts5(header, body, content='', contentless_delete=1, tokenize='trigram remove_diacritics 1');
CREATE TABLE state (id INTEGER PRIMARY KEY CHECK (id = 1), indexedThrough INTEGER NOT NULL);
INSERT INTO state (id, indexedThrough) VALUES (1, 0);
`,
  },
];

interface Row {
  id: number;
  size: number;
  parsed: string | null;
  expunged: number;
}

/** Read [start, end) of a message file with synchronous reads (worker thread: blocking is fine). */
function readFileRange(path: string, start: number, end: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(Math.max(0, end - start));
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, start + off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

export interface IndexSources {
  /** The account's index.db (only read). */
  index: Db;
  /** The account's fts.db. */
  fts: Db;
  /** Path of a message file (for messages not stored inline). */
  messagePath: (id: number) => string;
}

const watermarkStmts = new WeakMap<Db, Statement>();

/** The watermark: every live message with id ≤ it is indexed. */
export function indexedThrough(fts: Db): number {
  let st = watermarkStmts.get(fts);
  if (!st) watermarkStmts.set(fts, (st = fts.prepare('SELECT indexedThrough FROM state WHERE id = 1').pluck()));
  return st.get() as number;
}

/** Replace one message's entry (Account.indexText). */
export function putText(fts: Db, id: number, text: { header: string; body: string }): void {
  fts.transaction(() => {
    fts.prepare('DELETE FROM message_text WHERE rowid = ?').run(id);
    fts.prepare('INSERT INTO message_text (rowid, header, body) VALUES (?, ?, ?)').run(id, text.header, text.body);
  })();
}

/**
 * Index the messages with indexedThrough < id ≤ through, in batches of INDEX_BATCH per fts.db
 * transaction. Returns the new watermark. Never throws for a message it cannot read or parse
 * (it is indexed empty); database errors propagate.
 */
export async function indexRange(src: IndexSources, through: number): Promise<number> {
  const { index, fts } = src;
  const rowsAfter = index.prepare(
    'SELECT id, size, (SELECT parsed FROM message_parsed p WHERE p.id = message.id) AS parsed, expunged FROM message WHERE id > ? AND id <= ? ORDER BY id LIMIT ?',
  );
  const blob = index.prepare('SELECT data FROM message_blob WHERE id = ?').pluck();
  const del = fts.prepare('DELETE FROM message_text WHERE rowid = ?');
  const ins = fts.prepare('INSERT INTO message_text (rowid, header, body) VALUES (?, ?, ?)');
  const setMark = fts.prepare('UPDATE state SET indexedThrough = ? WHERE id = 1');
  let mark = indexedThrough(fts);
  while (mark < through) {
    const rows = rowsAfter.all(mark, through, INDEX_BATCH) as Row[];
    if (!rows.length) {
      // Ids without rows (failed deliveries never committed, removed rows): nothing to index.
      setMark.run(through);
      return through;
    }
    const docs: Array<{ id: number; text: { header: string; body: string } | null }> = [];
    for (const r of rows) {
      if (r.expunged) {
        docs.push({ id: r.id, text: null });
        continue;
      }
      let text = { header: '', body: '' };
      try {
        const inline = blob.get(r.id) as Buffer | undefined;
        const read = inline
          ? (a: number, b: number) => Promise.resolve(inline.subarray(a, b))
          : (a: number, b: number) => Promise.resolve(readFileRange(src.messagePath(r.id), a, b));
        const parsed = r.parsed ? (JSON.parse(r.parsed) as Part) : null;
        text = await messageText(read, r.size, parsed);
      } catch {
        // Unreadable (expunged meanwhile: file gone) or unparsable: indexed empty, the loop moves on.
      }
      docs.push({ id: r.id, text });
    }
    const last = rows[rows.length - 1]!.id;
    fts.transaction(() => {
      for (const d of docs) {
        del.run(d.id);
        if (d.text) ins.run(d.id, d.text.header, d.text.body);
      }
      setMark.run(last);
    })();
    mark = last;
  }
  return mark;
}

