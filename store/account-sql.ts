/**
 * SQL of an account's index.db (store/account.ts): row shapes, column lists, row → object
 * mapping, and the prepared statements, prepared once per connection.
 */
import type { Db } from './db.js';
import { flagsFromBits, type Mailbox, type Message, type SpecialUse } from './types.js';

export interface MailboxRow {
  id: number;
  name: string;
  specialUse: string | null;
  uidValidity: number;
  uidNext: number;
  total: number;
  unseen: number;
  deleted: number;
  size: number;
  highestModseq: number;
  createSeq: number;
  keywords: string;
  subscribed: number;
}

export interface MessageRow {
  id: number;
  mailboxId: number;
  uid: number;
  modseq: number;
  createSeq: number;
  flags: number;
  keywords: string;
  receivedAt: number;
  size: number;
  messageId: string;
  subject: string;
  mailFrom: string;
  rcptTo: string;
  remoteIp: string;
  expunged: number;
  parsed?: string | null;
  meta?: string | null;
  imapEnvelope?: string | null;
  imapBodyStructure?: string | null;
}

export const SUMMARY_COLS =
  'id, mailboxId, uid, modseq, createSeq, flags, keywords, receivedAt, size, messageId, subject, mailFrom, rcptTo, remoteIp, expunged';
/** The preformatted IMAP strings live in message_imap (schema migration 7), read by id. */
const IMAP_STRING_COLS =
  '(SELECT envelope FROM message_imap WHERE message_imap.id = message.id) AS imapEnvelope, (SELECT bodyStructure FROM message_imap WHERE message_imap.id = message.id) AS imapBodyStructure';
/** The parse tree lives in message_parsed (schema migration 6): read by id, only with FULL_COLS. */
export const FULL_COLS = `${SUMMARY_COLS}, (SELECT parsed FROM message_parsed WHERE message_parsed.id = message.id) AS parsed, meta, ${IMAP_STRING_COLS}`;
/** Summary plus the preformatted IMAP ENVELOPE/BODYSTRUCTURE (FETCH without the parse tree). */
export const IMAP_COLS = `${SUMMARY_COLS}, ${IMAP_STRING_COLS}`;
export const MAILBOX_COLS =
  'm.id, m.name, m.specialUse, m.uidValidity, m.uidNext, m.total, m.unseen, m.deleted, m.size, m.highestModseq, m.createSeq, m.keywords, (s.name IS NOT NULL) AS subscribed';

export function rowToMailbox(r: MailboxRow): Mailbox {
  return {
    id: r.id,
    name: r.name,
    specialUse: (r.specialUse as SpecialUse | null) ?? null,
    uidValidity: r.uidValidity,
    uidNext: r.uidNext,
    subscribed: !!r.subscribed,
    total: r.total,
    unseen: r.unseen,
    deleted: r.deleted,
    size: r.size,
    highestModseq: r.highestModseq,
    keywords: r.keywords === '[]' ? [] : (JSON.parse(r.keywords) as string[]),
  };
}

export function rowToMessage(r: MessageRow): Message {
  const m: Message = {
    id: r.id,
    mailboxId: r.mailboxId,
    uid: r.uid,
    modseq: r.modseq,
    createSeq: r.createSeq,
    flags: flagsFromBits(r.flags),
    keywords: r.keywords === '[]' ? [] : (JSON.parse(r.keywords) as string[]),
    receivedAt: new Date(r.receivedAt),
    size: r.size,
    messageId: r.messageId,
    subject: r.subject,
    mailFrom: r.mailFrom,
    rcptTo: r.rcptTo,
    remoteIp: r.remoteIp,
    expunged: !!r.expunged,
  };
  if (r.parsed !== undefined) m.parsed = r.parsed == null ? undefined : JSON.parse(r.parsed);
  if (r.meta !== undefined) m.meta = r.meta == null ? undefined : JSON.parse(r.meta);
  if (r.imapEnvelope !== undefined) m.imapEnvelope = r.imapEnvelope;
  if (r.imapBodyStructure !== undefined) m.imapBodyStructure = r.imapBodyStructure;
  return m;
}

/** Every statement Account uses, prepared once when the account is opened. */
export function prepareAccountStatements(db: Db) {
  return {
    getAccount: db.prepare('SELECT modseq, uidValidityNext, nextMessageId, quotaUsed FROM account WHERE id = 1'),
    getModseq: db.prepare('SELECT modseq FROM account WHERE id = 1').pluck(),
    setCounters: db.prepare('UPDATE account SET modseq = ?, nextMessageId = max(nextMessageId, ?), quotaUsed = quotaUsed + ? WHERE id = 1'),
    takeUidValidity: db.prepare('UPDATE account SET uidValidityNext = uidValidityNext + 1 WHERE id = 1 RETURNING uidValidityNext - 1 AS v').pluck(),
    mailboxById: db.prepare(`SELECT ${MAILBOX_COLS} FROM mailbox m LEFT JOIN subscription s ON s.name = m.name WHERE m.id = ?`),
    mailboxByName: db.prepare(`SELECT ${MAILBOX_COLS} FROM mailbox m LEFT JOIN subscription s ON s.name = m.name WHERE m.name = ?`),
    mailboxes: db.prepare(`SELECT ${MAILBOX_COLS} FROM mailbox m LEFT JOIN subscription s ON s.name = m.name ORDER BY m.name`),
    mailboxIdByName: db.prepare('SELECT id FROM mailbox WHERE name = ?').pluck(),
    mailboxIdById: db.prepare('SELECT id FROM mailbox WHERE id = ?').pluck(),
    insertMailbox: db.prepare(
      'INSERT INTO mailbox (name, specialUse, uidValidity, highestModseq, createSeq) VALUES (?, ?, ?, ?, ?) RETURNING id',
    ).pluck(),
    mailboxAdd: db.prepare(
      'UPDATE mailbox SET uidNext = uidNext + 1, total = total + 1, unseen = unseen + ?, deleted = deleted + ?, size = size + ?, highestModseq = ? WHERE id = ? RETURNING uidNext - 1',
    ).pluck(),
    // Block of n uids and counts of n deliveries at once (a delivery batch); returns the first uid.
    mailboxAddMany: db.prepare(
      'UPDATE mailbox SET uidNext = uidNext + ?, total = total + ?, unseen = unseen + ?, deleted = deleted + ?, size = size + ?, highestModseq = ? WHERE id = ? RETURNING uidNext - ?',
    ).pluck(),
    mailboxKeywords: db.prepare('SELECT keywords FROM mailbox WHERE id = ?').pluck(),
    setMailboxKeywords: db.prepare('UPDATE mailbox SET keywords = ? WHERE id = ?'),
    mailboxCounts: db.prepare(
      'UPDATE mailbox SET total = total + ?, unseen = unseen + ?, deleted = deleted + ?, size = size + ?, highestModseq = max(highestModseq, ?) WHERE id = ?',
    ),
    insertMessage: db.prepare(
      `INSERT INTO message (id, mailboxId, uid, modseq, createSeq, flags, keywords, receivedAt, size, messageId, subject, parsed, mailFrom, rcptTo, remoteIp, meta)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertImap: db.prepare('INSERT INTO message_imap (id, envelope, bodyStructure) VALUES (?, ?, ?)'),
    copyImap: db.prepare('INSERT INTO message_imap (id, envelope, bodyStructure) SELECT ?, envelope, bodyStructure FROM message_imap WHERE id = ?'),
    deleteImap: db.prepare('DELETE FROM message_imap WHERE id = ?'),
    insertTombstone: db.prepare(
      `INSERT INTO message (id, mailboxId, uid, modseq, createSeq, flags, keywords, receivedAt, size, expunged)
       VALUES (?, ?, ?, ?, ?, 0, '[]', ?, 0, 1)`,
    ),
    messageById: db.prepare(`SELECT ${FULL_COLS} FROM message WHERE id = ?`),
    messageByUid: db.prepare(`SELECT ${FULL_COLS} FROM message WHERE mailboxId = ? AND uid = ?`),
    /** The columns flag changes and expunges need, nothing else (STORE/EXPUNGE on 10,000 messages). */
    flagRowsRange: db.prepare(
      'SELECT id, uid, modseq, flags, keywords, size FROM message WHERE mailboxId = ? AND uid BETWEEN ? AND ? AND expunged = 0 ORDER BY uid',
    ),
    messagesRange: db.prepare(
      `SELECT ${SUMMARY_COLS} FROM message WHERE mailboxId = ? AND uid BETWEEN ? AND ? AND expunged = 0 ORDER BY uid`,
    ),
    messagesRangeFull: db.prepare(
      `SELECT ${FULL_COLS} FROM message WHERE mailboxId = ? AND uid BETWEEN ? AND ? AND expunged = 0 ORDER BY uid`,
    ),
    messagesRangeImap: db.prepare(
      `SELECT ${IMAP_COLS} FROM message WHERE mailboxId = ? AND uid BETWEEN ? AND ? AND expunged = 0 ORDER BY uid`,
    ),
    messagesPage: db.prepare(
      `SELECT ${SUMMARY_COLS} FROM message WHERE mailboxId = ? AND uid > ? AND expunged = 0 ORDER BY uid LIMIT ?`,
    ),
    messagesPageFull: db.prepare(
      `SELECT ${FULL_COLS} FROM message WHERE mailboxId = ? AND uid > ? AND expunged = 0 ORDER BY uid LIMIT ?`,
    ),
    messagesPageImap: db.prepare(
      `SELECT ${IMAP_COLS} FROM message WHERE mailboxId = ? AND uid > ? AND expunged = 0 ORDER BY uid LIMIT ?`,
    ),

    updateFlags: db.prepare('UPDATE message SET flags = ?, keywords = ?, modseq = ? WHERE id = ?'),
    expungeMessage: db.prepare(
      'UPDATE message SET expunged = 1, modseq = ?, parsed = NULL, meta = NULL WHERE id = ?',
    ),
    moveMessage: db.prepare('UPDATE message SET mailboxId = ?, uid = ?, modseq = ? WHERE id = ?'),
    takeUids: db.prepare('UPDATE mailbox SET uidNext = uidNext + ? WHERE id = ? RETURNING uidNext - ?').pluck(),
    liveUids: db.prepare('SELECT uid FROM message WHERE mailboxId = ? AND expunged = 0 ORDER BY uid').pluck(),
    changesSince: db.prepare(`SELECT ${SUMMARY_COLS} FROM message WHERE mailboxId = ? AND modseq > ? ORDER BY uid`),
    liveIdsInRange: db.prepare('SELECT id FROM message WHERE id BETWEEN ? AND ? AND expunged = 0').pluck(),
    // Live messages of a mailbox after the full-text index's watermark (store/fts.ts).
    uidsOfIds: db
      .prepare('SELECT id, uid FROM message WHERE mailboxId = ? AND id IN (SELECT value FROM json_each(?)) AND expunged = 0')
      .raw(true),
    liveIds: db.prepare('SELECT id FROM message WHERE id IN (SELECT value FROM json_each(?)) AND expunged = 0 ORDER BY id').pluck(),
    countAfter: db.prepare('SELECT count(*) FROM message WHERE id > ? AND mailboxId = ? AND expunged = 0').pluck(),
    insertParsed: db.prepare('INSERT INTO message_parsed (id, parsed) VALUES (?, ?)'),
    copyParsed: db.prepare('INSERT INTO message_parsed (id, parsed) SELECT ?, parsed FROM message_parsed WHERE id = ?'),
    deleteParsed: db.prepare('DELETE FROM message_parsed WHERE id = ?'),
    insertBlob: db.prepare('INSERT INTO message_blob (id, data) VALUES (?, ?)'),
    copyBlob: db.prepare('INSERT INTO message_blob (id, data) SELECT ?, data FROM message_blob WHERE id = ?'),
    hasBlob: db.prepare('SELECT 1 FROM message_blob WHERE id = ?').pluck(),
    deleteBlob: db.prepare('DELETE FROM message_blob WHERE id = ?'),
    readBlob: db.prepare('SELECT substr(data, ?, ?) FROM message_blob WHERE id = ?').pluck(),
    blobSize: db.prepare('SELECT length(data) FROM message_blob WHERE id = ?').pluck(),
    syncNormal: db.prepare('PRAGMA synchronous = NORMAL'),
    syncFull: db.prepare('PRAGMA synchronous = FULL'),
    getPassword: db.prepare('SELECT record FROM password WHERE id = 1').pluck(),
    setPassword: db.prepare(
      'INSERT INTO password (id, record, updatedAt) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET record = excluded.record, updatedAt = excluded.updatedAt',
    ),
  };
}

export type AccountStatements = ReturnType<typeof prepareAccountStatements>;
