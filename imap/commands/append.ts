// rfc9051:6.3.12 APPEND with rfc3502 MULTIAPPEND (all or nothing), rfc4315 APPENDUID, rfc3516
// literal8, rfc7889 APPENDLIMIT (enforced by the reader before the literal is sent). The OK is
// sent only after the messages are durable (store rule). The message is parsed once here.
//
// The round trip of a client that waits for each OK is: parse, the store's commit, the WAL
// fsync, the answer. Only what must come before the commit is done before it: the store looks
// the mailbox up by name itself (a missing one rejects: TRYCREATE), and the mailbox's
// UIDVALIDITY for APPENDUID is read while the fsync runs on the thread pool.
import { ImapError } from '../errors.js';
import { parseFlags } from '../flags.js';
import { compactUids } from '../selected.js';
import { parseBuffer } from '../../message/part.js';
import { MailboxNotFoundError, QuotaExceededError, type Mailbox } from '../../store/types.js';
import type { Account } from '../../store/account.js';
import type { AppendMessage } from '../protocol/command.js';
import type { Session } from '../session.js';

export async function append(s: Session, _tag: string, c: { mailbox: string; messages: AppendMessage[] }): Promise<string | void> {
  const acct = s.xaccount();
  const name = s.decodeName(c.mailbox);
  const prepared = c.messages.map((m) => {
    const { flags, keywords } = parseFlags(m.flags);
    const parsed = parseBuffer(m.data);
    const env = parsed.envelope;
    return {
      data: m.data,
      receivedAt: m.date ?? s.now,
      flags,
      keywords,
      parsed,
      ...(env?.messageId ? { messageId: env.messageId } : {}),
      ...(env?.subject ? { subject: env.subject } : {}),
    };
  });
  // Concurrent appends share one group commit (one fsync).
  const settled = Promise.allSettled(prepared.map((p) => acct.append(name, p)));
  const mailbox = lookupDuringSync(acct, name);
  const results = await settled;
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    // rfc3502:6.3.11 MULTIAPPEND is all or nothing: remove what did get in.
    const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    if (ok.length) acct.expunge(ok[0]!.mailboxId, { uids: ok.map((d) => d.uid), deletedOnly: false });
    const err = failed.reason;
    // rfc9051:6.3.12 a missing target mailbox: NO [TRYCREATE].
    if (err instanceof MailboxNotFoundError) throw new ImapError('NO', 'TRYCREATE', 'no such mailbox');
    if (err instanceof QuotaExceededError) throw new ImapError('NO', 'OVERQUOTA', 'quota exceeded');
    throw err;
  }
  const done = results.map((r) => (r as PromiseFulfilledResult<{ uid: number; mailboxId: number }>).value);
  const mailboxId = done[0]!.mailboxId;
  let mb = await mailbox;
  // Renamed meanwhile (the name now means another mailbox, or none): by id. A mailbox id keeps
  // its UIDVALIDITY for as long as the row exists.
  if (mb?.id !== mailboxId) mb = acct.mailbox(mailboxId);
  // Deleted since the commit (with the message): nothing to point the client at.
  if (!mb) return 'APPEND completed';
  return `[APPENDUID ${mb.uidValidity} ${compactUids(done.map((d) => d.uid))}] APPEND completed`;
}

/**
 * The mailbox, looked up in a setImmediate queued after the store's (Store.scheduleFlush runs
 * in the same check phase, before it): by then the rows are committed and the WAL fsync is on
 * the thread pool, so the lookup costs the client no time. The caller checks the id against the
 * committed rows (the name may have been renamed meanwhile). Never rejects.
 */
function lookupDuringSync(acct: Account, name: string): Promise<Mailbox | undefined> {
  return new Promise((resolve) => {
    setImmediate(() => {
      try {
        resolve(acct.mailbox(name));
      } catch {
        resolve(undefined);
      }
    });
  });
}
