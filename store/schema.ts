/** Numbered migrations of an account's index.db (see store/README.md for the table layout). */
import type { Migration } from './db.js';

export const ACCOUNT_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
CREATE TABLE account (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  modseq INTEGER NOT NULL,            -- last modseq handed out; every change bumps it (RFC 7162)
  uidValidityNext INTEGER NOT NULL,   -- next UIDVALIDITY for a new mailbox (account-wide, never reused)
  nextMessageId INTEGER NOT NULL,     -- message ids below this were handed out
  quotaUsed INTEGER NOT NULL,         -- sum of sizes of non-expunged messages
  createdAt INTEGER NOT NULL          -- unix ms
);

CREATE TABLE password (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  record TEXT NOT NULL,               -- JSON of auth/password.ts PasswordRecord
  updatedAt INTEGER NOT NULL
);

CREATE TABLE mailbox (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  specialUse TEXT,
  uidValidity INTEGER NOT NULL,
  uidNext INTEGER NOT NULL DEFAULT 1,
  total INTEGER NOT NULL DEFAULT 0,
  unseen INTEGER NOT NULL DEFAULT 0,
  deleted INTEGER NOT NULL DEFAULT 0,
  size INTEGER NOT NULL DEFAULT 0,
  highestModseq INTEGER NOT NULL,
  createSeq INTEGER NOT NULL,
  keywords TEXT NOT NULL DEFAULT '[]'
);

-- IMAP subscriptions may name mailboxes that do not exist (RFC 9051 §6.3.7).
CREATE TABLE subscription (name TEXT PRIMARY KEY);

CREATE TABLE message (
  id INTEGER PRIMARY KEY,             -- also names the file msg/<dir>/<id>
  mailboxId INTEGER NOT NULL REFERENCES mailbox(id),
  uid INTEGER NOT NULL,
  modseq INTEGER NOT NULL,
  createSeq INTEGER NOT NULL,
  flags INTEGER NOT NULL DEFAULT 0,   -- bitmask: 1 seen, 2 answered, 4 flagged, 8 deleted, 16 draft
  keywords TEXT NOT NULL DEFAULT '[]',-- JSON array of lower-cased keywords
  receivedAt INTEGER NOT NULL,        -- internal date, unix ms
  size INTEGER NOT NULL,
  messageId TEXT NOT NULL DEFAULT '',
  subject TEXT NOT NULL DEFAULT '',
  parsed TEXT,                        -- JSON of message/ Part tree (opaque to store/)
  mailFrom TEXT NOT NULL DEFAULT '',
  rcptTo TEXT NOT NULL DEFAULT '',
  remoteIp TEXT NOT NULL DEFAULT '',
  meta TEXT,                          -- JSON, e.g. auth verdicts (opaque to store/)
  expunged INTEGER NOT NULL DEFAULT 0 -- 1: tombstone for QRESYNC VANISHED, no file
);
CREATE UNIQUE INDEX message_mailbox_uid ON message(mailboxId, uid);
CREATE INDEX message_mailbox_modseq ON message(mailboxId, modseq);

-- Full-text index (contentless; rowid = message.id). Filled off the delivery path via
-- Account.indexText(); searched by IMAP SEARCH TEXT/BODY later.
CREATE VIRTUAL TABLE message_text USING fts5(text, content='', contentless_delete=1);
`,
  },
  {
    version: 2,
    sql: `
-- Messages up to StoreOptions.inlineMaxSize bytes kept inside index.db instead of a file: the
-- batch commit's WAL fsync makes them durable, no per-message file fsync (see README).
CREATE TABLE message_blob (
  id INTEGER PRIMARY KEY REFERENCES message(id),
  data BLOB NOT NULL
);
`,
  },
  {
    version: 3,
    sql: `
-- IMAP FETCH ENVELOPE/BODYSTRUCTURE preformatted at delivery from the parse tree (store/imapcache.ts),
-- so FETCH of many messages neither parses JSON nor formats (DESIGN §4 "parse once").
-- NULL for rows written before this migration or without a parse tree: computed on demand then.
ALTER TABLE message ADD COLUMN imapEnvelope TEXT;
ALTER TABLE message ADD COLUMN imapBodyStructure TEXT;
-- Full-text index state: 0 until the background indexer (store/textindex.ts) has put the
-- message's text into message_text.
ALTER TABLE message ADD COLUMN textIndexed INTEGER NOT NULL DEFAULT 0;
CREATE INDEX message_unindexed ON message(id) WHERE textIndexed = 0 AND expunged = 0;
-- Two columns so IMAP SEARCH BODY can ignore the header; trigram tokens give IMAP's
-- case-insensitive substring semantics (rfc9051:6.4.4) for strings of 3+ characters.
DROP TABLE message_text;
CREATE VIRTUAL TABLE message_text USING fts5(header, body, content='', contentless_delete=1, tokenize='trigram remove_diacritics 1');
`,
  },
  {
    version: 4,
    sql: `
-- The full-text index moved to its own database, fts.db, filled by a worker thread (store/fts.ts):
-- indexing no longer writes index.db. The textIndexed column is unused from here on.
DROP INDEX message_unindexed;
DROP TABLE message_text;
`,
  },
  {
    version: 5,
    sql: `
-- Column order, for speed: SQLite stores a row's columns in order, and reading a column placed
-- after a large one (parsed, meta: JSON of several KiB, mostly in overflow pages) walks that
-- column's overflow pages. IMAP listings read only the small columns (flags, uid, size, expunged,
-- the preformatted ENVELOPE/BODYSTRUCTURE), so they come first and parsed/meta last: FETCH 1:*
-- ENVELOPE over 10,000 messages read 4x fewer pages. The table is rebuilt; message_blob refers
-- to it, so foreign keys are deferred: dropping message counts its blobs as violations and
-- inserting the rows again resolves them before the commit. textIndexed (unused since 4) goes.
PRAGMA defer_foreign_keys = ON;
DELETE FROM message_blob WHERE id NOT IN (SELECT id FROM message);
CREATE TABLE message_old AS SELECT * FROM message;
DROP TABLE message;
CREATE TABLE message (
  id INTEGER PRIMARY KEY,             -- also names the file msg/<dir>/<id>
  mailboxId INTEGER NOT NULL REFERENCES mailbox(id),
  uid INTEGER NOT NULL,
  modseq INTEGER NOT NULL,
  createSeq INTEGER NOT NULL,
  flags INTEGER NOT NULL DEFAULT 0,   -- bitmask: 1 seen, 2 answered, 4 flagged, 8 deleted, 16 draft
  expunged INTEGER NOT NULL DEFAULT 0,-- 1: tombstone for QRESYNC VANISHED, no file
  receivedAt INTEGER NOT NULL,        -- internal date, unix ms
  size INTEGER NOT NULL,
  keywords TEXT NOT NULL DEFAULT '[]',-- JSON array of lower-cased keywords
  messageId TEXT NOT NULL DEFAULT '',
  subject TEXT NOT NULL DEFAULT '',
  mailFrom TEXT NOT NULL DEFAULT '',
  rcptTo TEXT NOT NULL DEFAULT '',
  remoteIp TEXT NOT NULL DEFAULT '',
  imapEnvelope TEXT,                  -- preformatted IMAP ENVELOPE (store/imapcache.ts)
  imapBodyStructure TEXT,             -- preformatted IMAP BODYSTRUCTURE
  meta TEXT,                          -- JSON, e.g. auth verdicts (opaque to store/)
  parsed TEXT                         -- JSON of message/ Part tree (opaque to store/)
);
INSERT INTO message (id, mailboxId, uid, modseq, createSeq, flags, expunged, receivedAt, size, keywords, messageId, subject, mailFrom, rcptTo, remoteIp, imapEnvelope, imapBodyStructure, meta, parsed)
  SELECT id, mailboxId, uid, modseq, createSeq, flags, expunged, receivedAt, size, keywords, messageId, subject, mailFrom, rcptTo, remoteIp, imapEnvelope, imapBodyStructure, meta, parsed FROM message_old;
DROP TABLE message_old;
CREATE UNIQUE INDEX message_mailbox_uid ON message(mailboxId, uid);
CREATE INDEX message_mailbox_modseq ON message(mailboxId, modseq);
`,
  },
  {
    version: 6,
    sql: `
-- The parse tree (JSON, 1.7 KiB on average, often more) moves out of the message row into its own
-- table. SQLite keeps up to ~4 KiB of a row in its leaf page, so with parsed inline a message row
-- filled about a page: a flag change (IMAP STORE) or expunge on 10,000 messages rewrote ~7,000
-- pages (29 MiB of WAL); without it the rows pack ~5 to a page (7 MiB). Readers get it back
-- through a subquery by id (account-sql.ts FULL_COLS). message.parsed stays, always NULL.
CREATE TABLE message_parsed (
  id INTEGER PRIMARY KEY,             -- message.id (no foreign key: written and removed with the row)
  parsed TEXT NOT NULL                -- JSON of message/ Part tree (opaque to store/)
);
INSERT INTO message_parsed (id, parsed) SELECT id, parsed FROM message WHERE parsed IS NOT NULL;
UPDATE message SET parsed = NULL WHERE parsed IS NOT NULL;
`,
  },
  {
    version: 7,
    sql: `
-- The preformatted IMAP ENVELOPE and BODYSTRUCTURE (store/imapcache.ts, ~0.5 KiB together) move
-- out of the message row too: a flag change (IMAP STORE) or expunge over 10,000 messages then
-- rewrites the pages of ~150-byte rows (WAL 8 -> ~0.6 MiB for the bench mailbox). FETCH reads
-- them through a join by id (account-sql.ts). message.imapEnvelope/imapBodyStructure stay, always
-- NULL. Rows migrated here shrink in place; their pages pack tighter only after a VACUUM.
CREATE TABLE message_imap (
  id INTEGER PRIMARY KEY,             -- message.id (no foreign key: written and removed with the row)
  envelope TEXT,                      -- preformatted IMAP ENVELOPE
  bodyStructure TEXT                  -- preformatted IMAP BODYSTRUCTURE (extensible form)
);
INSERT INTO message_imap (id, envelope, bodyStructure)
  SELECT id, imapEnvelope, imapBodyStructure FROM message WHERE imapEnvelope IS NOT NULL OR imapBodyStructure IS NOT NULL;
UPDATE message SET imapEnvelope = NULL, imapBodyStructure = NULL WHERE imapEnvelope IS NOT NULL OR imapBodyStructure IS NOT NULL;
`,
  },
];
