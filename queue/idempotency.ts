/**
 * Idempotency keys for webapi Send (our addition, not in mox): a request repeated with the same
 * `Idempotency-Key` within 24 h gets the first result and queues nothing. Kept in queue.db (table
 * `idempotency`) so its rows share the queue's write-ahead log:
 *
 * - `begin` inserts a pending row (account, key, request hash, Message-ID, recipients) committed
 *   without its own fsync: the queue's group commit that follows fsyncs the same WAL, and a WAL is
 *   durable as a prefix, so once the queued message is durable the pending row is too.
 * - `finish` stores the result (again without fsync); `abort` removes the row when nothing was
 *   queued (the request failed).
 * - After a crash a pending row may be left whose submission did or did not commit: `recover`
 *   looks for queue rows (queued or retired) of the account with the row's Message-ID, queued no
 *   earlier than the row; found → the result is rebuilt from them, not found → the row is dropped
 *   and the request runs again. (If the delivered messages were also retired and their records
 *   already removed, the request runs again: only then can a repeat send twice.)
 */
import type { Db } from '../store/db.js';

/** How long a key is remembered (Stripe's and the 24 h). */
export const IDEMPOTENCY_TTL_MS = 24 * 3600_000;

export interface IdempotencyRow {
  account: string;
  key: string;
  created: number;
  requestHash: string;
  messageId: string;
  /** Recipient addresses as given, in submission order. */
  addresses: string[];
  /** JSON of the result once finished; null while pending. */
  result: string | null;
}

export const IDEMPOTENCY_MIGRATION_SQL = `
  CREATE TABLE idempotency (
    account TEXT NOT NULL,
    key TEXT NOT NULL,
    created INTEGER NOT NULL,
    request_hash TEXT NOT NULL,          -- sha256 of the request, to refuse a key reused for another request
    message_id TEXT NOT NULL,            -- Message-ID of the submission, for recovery after a crash
    addresses TEXT NOT NULL,             -- JSON array of the recipients as given
    result TEXT,                         -- JSON of the Send result; NULL while pending
    PRIMARY KEY (account, key)
  );
  CREATE INDEX idempotency_created ON idempotency(created);
`;

type Row = { account: string; key: string; created: number; request_hash: string; message_id: string; addresses: string; result: string | null };

function fromRow(r: Row): IdempotencyRow {
  return {
    account: r.account,
    key: r.key,
    created: r.created,
    requestHash: r.request_hash,
    messageId: r.message_id,
    addresses: JSON.parse(r.addresses) as string[],
    result: r.result,
  };
}

export class IdempotencyStore {
  private readonly st;

  constructor(
    private readonly db: Db,
    private readonly clock: () => number = Date.now,
  ) {
    this.st = {
      get: db.prepare('SELECT * FROM idempotency WHERE account = ? AND key = ? AND created >= ?'),
      del: db.prepare('DELETE FROM idempotency WHERE account = ? AND key = ?'),
      insert: db.prepare('INSERT OR REPLACE INTO idempotency (account, key, created, request_hash, message_id, addresses, result) VALUES (?, ?, ?, ?, ?, ?, NULL)'),
      finish: db.prepare('UPDATE idempotency SET result = ? WHERE account = ? AND key = ?'),
      cleanup: db.prepare('DELETE FROM idempotency WHERE created < ?'),
      queued: db.prepare(
        `SELECT id, from_id, recipient_localpart || '@' || recipient_domain AS rcpt FROM msg WHERE sender_account = ? AND message_id = ? AND queued >= ?
         UNION ALL
         SELECT id, from_id, recipient_localpart || '@' || recipient_domain FROM msg_retired WHERE sender_account = ? AND message_id = ? AND queued >= ?
         ORDER BY id`,
      ),
    };
  }

  /** Run fn in a transaction that commits without fsync (made durable by the next FULL commit on the WAL). */
  private lazy<T>(fn: () => T): T {
    this.db.pragma('synchronous = NORMAL');
    try {
      return this.db.transaction(fn)();
    } finally {
      this.db.pragma('synchronous = FULL');
    }
  }

  /** The remembered request for this key, if within the TTL. */
  get(account: string, key: string): IdempotencyRow | undefined {
    const r = this.st.get.get(account, key, this.clock() - IDEMPOTENCY_TTL_MS) as Row | undefined;
    return r ? fromRow(r) : undefined;
  }

  begin(r: Omit<IdempotencyRow, 'created' | 'result'>): void {
    this.lazy(() => this.st.insert.run(r.account, r.key, this.clock(), r.requestHash, r.messageId, JSON.stringify(r.addresses)));
  }

  finish(account: string, key: string, result: string): void {
    this.lazy(() => this.st.finish.run(result, account, key));
  }

  abort(account: string, key: string): void {
    this.lazy(() => this.st.del.run(account, key));
  }

  /** Queue rows of a pending row's submission (see the module comment), in recipient order. */
  recover(row: IdempotencyRow): Array<{ id: number; fromId: string | null; recipient: string }> {
    const rows = this.st.queued.all(row.account, row.messageId, row.created, row.account, row.messageId, row.created) as Array<{ id: number; from_id: string | null; rcpt: string }>;
    return rows.map((r) => ({ id: r.id, fromId: r.from_id, recipient: r.rcpt }));
  }

  /** Forget keys older than the TTL; returns how many. */
  cleanup(): number {
    return this.st.cleanup.run(this.clock() - IDEMPOTENCY_TTL_MS).changes;
  }
}
