/**
 * queue.db tables (DESIGN §4): queued messages (one row per recipient), retired messages, hold
 * rules, suppression list, (migration 2) the outgoing event log that webhook/ turns into webhook
 * deliveries, (3) an index for matching incoming DSNs by ENVID, and (4) the per-recipient
 * submission record the send limits count; (5) webhook/'s delivery tables; (6) webapi Send
 * idempotency keys (queue/idempotency.ts), (7) an index of retired messages by account, (8) inline
 * message bodies (`msg_body`).
 * Times are milliseconds since the epoch; JSON columns are TEXT.
 */
import type { Migration } from '../store/db.js';
import { IDEMPOTENCY_MIGRATION_SQL } from './idempotency.js';

export const QUEUE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE msg (
        id INTEGER PRIMARY KEY,
        base_id INTEGER NOT NULL,              -- id of the submission's first row; names the shared message file
        queued INTEGER NOT NULL,
        hold INTEGER NOT NULL DEFAULT 0,
        sender_account TEXT NOT NULL,
        sender_localpart TEXT NOT NULL,
        sender_domain TEXT NOT NULL,           -- ASCII (A-label), lower-case
        from_id TEXT,                          -- unique MAIL FROM id (fromid), unique with msg_retired
        recipient_localpart TEXT NOT NULL,
        recipient_domain TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL DEFAULT 8,
        next_attempt INTEGER NOT NULL,
        last_attempt INTEGER,
        results TEXT NOT NULL DEFAULT '[]',    -- JSON array of attempt results (the history)
        has8bit INTEGER NOT NULL DEFAULT 0,
        smtputf8 INTEGER NOT NULL DEFAULT 0,
        size INTEGER NOT NULL,                 -- prefix + file
        message_id TEXT NOT NULL DEFAULT '',
        subject TEXT NOT NULL DEFAULT '',
        prefix BLOB,                           -- per-recipient header lines sent before the file (e.g. DKIM-Signature)
        transport TEXT,                        -- admin override; NULL: routes decide
        require_tls INTEGER,                   -- NULL default policy, 0 no, 1 yes
        future_release TEXT,                   -- rfc4865 request as given ("for;3600", "until;...")
        extra TEXT NOT NULL DEFAULT '{}',      -- JSON object (X-Mox-Extra-* / webapi Extra)
        dsn TEXT NOT NULL DEFAULT '{}',        -- JSON {notify, orcpt, envid, ret} (rfc3461)
        delayed_dsn_sent INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX msg_due ON msg(hold, next_attempt);
      CREATE INDEX msg_base ON msg(base_id);
      CREATE INDEX msg_account ON msg(sender_account);
      CREATE UNIQUE INDEX msg_fromid ON msg(from_id) WHERE from_id IS NOT NULL;

      CREATE TABLE msg_retired (
        id INTEGER PRIMARY KEY,                -- the queue id it had
        base_id INTEGER NOT NULL,
        queued INTEGER NOT NULL,
        sender_account TEXT NOT NULL,
        sender_localpart TEXT NOT NULL,
        sender_domain TEXT NOT NULL,
        from_id TEXT,
        recipient_localpart TEXT NOT NULL,
        recipient_domain TEXT NOT NULL,
        recipient_address TEXT NOT NULL,       -- lower-case localpart@domain, for suppression history
        attempts INTEGER NOT NULL,
        max_attempts INTEGER NOT NULL,
        last_attempt INTEGER,
        results TEXT NOT NULL,
        has8bit INTEGER NOT NULL,
        smtputf8 INTEGER NOT NULL,
        size INTEGER NOT NULL,
        message_id TEXT NOT NULL,
        subject TEXT NOT NULL,
        transport TEXT,
        require_tls INTEGER,
        future_release TEXT,
        extra TEXT NOT NULL,
        dsn TEXT NOT NULL,
        success INTEGER NOT NULL,
        outcome TEXT NOT NULL,                 -- delivered | failed | canceled | suppressed
        last_activity INTEGER NOT NULL,
        keep_until INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX retired_fromid ON msg_retired(from_id) WHERE from_id IS NOT NULL;
      CREATE INDEX retired_recipient ON msg_retired(recipient_address, last_activity);
      CREATE INDEX retired_keep ON msg_retired(keep_until);
      CREATE INDEX retired_message_id ON msg_retired(message_id);

      CREATE TABLE hold_rule (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL DEFAULT '',
        sender_domain TEXT NOT NULL DEFAULT '',
        recipient_domain TEXT NOT NULL DEFAULT ''
      );

      CREATE TABLE suppression (
        id INTEGER PRIMARY KEY,
        created INTEGER NOT NULL,
        account TEXT NOT NULL,
        base_address TEXT NOT NULL,
        original_address TEXT NOT NULL,
        manual INTEGER NOT NULL DEFAULT 0,
        reason TEXT NOT NULL DEFAULT '',
        UNIQUE(account, base_address)
      );
    `,
  },
  {
    // The outgoing event log (queue/events.ts): one row per delivery outcome, written in the same
    // transaction as the outcome itself, so no event is lost or invented by a crash. webhook/
    // consumes rows in id order (and deletes them) in its own transactions.
    version: 2,
    sql: `
      CREATE TABLE event (
        id INTEGER PRIMARY KEY,
        created INTEGER NOT NULL,
        account TEXT NOT NULL,
        queue_msg_id INTEGER NOT NULL,         -- 0 when unknown (e.g. an unrecognized incoming DSN)
        event TEXT NOT NULL,                   -- delivered|suppressed|delayed|failed|relayed|expanded|canceled|unrecognized|complained
        payload TEXT NOT NULL                  -- JSON, mox webhook.Outgoing shape (queue/events.ts OutgoingPayload)
      );
      CREATE INDEX event_account ON event(account, id);
    `,
  },
  {
    // Matching incoming DSNs by the rfc3461 ENVID we passed on (queue/incoming.ts): the ENVID is
    // kept in the dsn JSON column; an expression index makes the lookup cheap.
    version: 3,
    sql: `
      CREATE INDEX retired_envid ON msg_retired(sender_account, json_extract(dsn, '$.envid')) WHERE json_extract(dsn, '$.envid') IS NOT NULL;
    `,
  },
  {
    // Send limits (queue/sendlimits.ts, mox §3.11): one row per recipient of every submission, by
    // every way of sending (SMTP submission, webapi), written in the same transaction as the
    // queued rows. Counted over a rolling 24 h; older rows tell first-time recipients apart.
    version: 4,
    sql: `
      CREATE TABLE outgoing (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        recipient TEXT NOT NULL,               -- lower-case localpart@domain
        submitted INTEGER NOT NULL
      );
      CREATE INDEX outgoing_account ON outgoing(account, submitted);
      CREATE INDEX outgoing_recipient ON outgoing(account, recipient, submitted);
    `,
  },
  {
    // Webhook deliveries (owned by webhook/, see webhook/store.ts and webhook/README.md): queued
    // hooks with their attempt history, retired hooks (kept KeepRetiredWebhookPeriod), and the
    // per-account Standard Webhooks signing secrets. AUTOINCREMENT: a hook id is never reused,
    // even after the newest retired hooks were cleaned up (X-Mox-Webhook-ID stays unique).
    version: 5,
    sql: `
      CREATE TABLE hook (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        webhook_id TEXT NOT NULL,              -- Standard Webhooks "webhook-id", same on every attempt (and replay)
        queue_msg_id INTEGER NOT NULL DEFAULT 0, -- 0 for incoming-message hooks
        from_id TEXT NOT NULL DEFAULT '',
        message_id TEXT NOT NULL DEFAULT '',
        subject TEXT NOT NULL DEFAULT '',
        extra TEXT NOT NULL DEFAULT '{}',
        account TEXT NOT NULL,
        url TEXT NOT NULL,                     -- captured when queued
        authorization TEXT NOT NULL DEFAULT '',-- captured when queued; never copied to hook_retired
        is_incoming INTEGER NOT NULL,
        outgoing_event TEXT NOT NULL DEFAULT '',
        payload TEXT NOT NULL,                 -- the JSON body, built once, sent byte-identical on every attempt
        submitted INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt INTEGER NOT NULL,
        results TEXT NOT NULL DEFAULT '[]'     -- JSON array of HookResult (the attempt history)
      );
      CREATE INDEX hook_due ON hook(next_attempt);
      CREATE INDEX hook_url_due ON hook(url, next_attempt);
      CREATE INDEX hook_queue_msg ON hook(queue_msg_id) WHERE queue_msg_id != 0;

      CREATE TABLE hook_retired (
        id INTEGER PRIMARY KEY,                -- the id it had in hook
        webhook_id TEXT NOT NULL,
        queue_msg_id INTEGER NOT NULL,
        from_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        subject TEXT NOT NULL,
        extra TEXT NOT NULL,
        account TEXT NOT NULL,
        url TEXT NOT NULL,
        has_authorization INTEGER NOT NULL,    -- the secret itself is not kept (as mox)
        is_incoming INTEGER NOT NULL,
        outgoing_event TEXT NOT NULL,
        payload TEXT NOT NULL,
        submitted INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        results TEXT NOT NULL,
        superseded_by_id INTEGER NOT NULL DEFAULT 0,
        success INTEGER NOT NULL,
        last_activity INTEGER NOT NULL,
        keep_until INTEGER NOT NULL
      );
      CREATE INDEX hook_retired_keep ON hook_retired(keep_until);
      CREATE INDEX hook_retired_account ON hook_retired(account, last_activity);

      CREATE TABLE hook_secret (
        account TEXT PRIMARY KEY,
        secret TEXT NOT NULL,                  -- "whsec_" + base64 of 32 random bytes
        created INTEGER NOT NULL,
        previous TEXT,                         -- the secret before the last rotation, also signed with until previous_until
        previous_until INTEGER
      );
    `,
  },
  {
    // webapi Send Idempotency-Key records (queue/idempotency.ts), in queue.db so they share the
    // queue's WAL with the submissions they describe.
    version: 6,
    sql: IDEMPOTENCY_MIGRATION_SQL,
  },
  {
    // Retired messages by account (queue/incoming.ts asks for every incoming message whether the
    // receiving account has any, and listRetired filters by account ordered by last activity):
    // without it both scan the whole table.
    version: 7,
    sql: `
      CREATE INDEX retired_account ON msg_retired(sender_account, last_activity);
    `,
  },
  {
    // Inline message bodies (queue/store.ts): a submission up to inlineMaxSize (default 64 KiB) is
    // stored here, in the same group-committed transaction as its rows, instead of as a file under
    // queue/msg/ (no per-message file write, fsync and directory fsync). One row per submission,
    // keyed like the file would be (the id of its first msg row); removed with the last msg row.
    version: 8,
    sql: `
      CREATE TABLE msg_body (
        base_id INTEGER PRIMARY KEY,
        data BLOB NOT NULL
      );
    `,
  },
  {
    // Sender DSNs (queue/scheduler.ts) written in the same transaction as the outcome that owes
    // them and removed once delivered into the sender's Inbox: a crash between the two commits
    // delivers the DSN at the next start instead of losing it.
    version: 9,
    sql: `
      CREATE TABLE dsn_outbox (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        message BLOB NOT NULL,
        created INTEGER NOT NULL
      );
    `,
  },
];
