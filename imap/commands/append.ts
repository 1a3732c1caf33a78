// rfc9051:6.3.12 APPEND with rfc3502 MULTIAPPEND (all or nothing), rfc4315 APPENDUID, rfc3516
// literal8, rfc7889 APPENDLIMIT (enforced by the reader before the literal is sent). The OK is
// sent only after the messages are durable (store rule). The message is parsed once here.
import { ImapError } from '../errors.js';
import { parseFlags } from '../flags.js';
import { compactUids } from '../selected.js';
import { parseBuffer } from '../../message/part.js';
import { QuotaExceededError } from '../../store/types.js';
import type { AppendMessage } from '../protocol/command.js';
import type { Session } from '../session.js';

export async function append(s: Session, _tag: string, c: { mailbox: string; messages: AppendMessage[] }): Promise<string | void> {
  const acct = s.xaccount();
  const mb = acct.mailbox(s.decodeName(c.mailbox));
  if (!mb) throw new ImapError('NO', 'TRYCREATE', 'no such mailbox');
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
  const results = await Promise.allSettled(prepared.map((p) => acct.append(mb.id, p)));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    // rfc3502:6.3.11 MULTIAPPEND is all or nothing: remove what did get in.
    const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.uid] : []));
    if (ok.length) acct.expunge(mb.id, { uids: ok, deletedOnly: false });
    const err = failed.reason;
    if (err instanceof QuotaExceededError) throw new ImapError('NO', 'OVERQUOTA', 'quota exceeded');
    throw err;
  }
  const uids = results.map((r) => (r as PromiseFulfilledResult<{ uid: number }>).value.uid);
  return `[APPENDUID ${mb.uidValidity} ${compactUids(uids)}] APPEND completed`;
}
