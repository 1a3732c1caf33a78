/**
 * Values shown on the next page view of a session only (post/redirect/get): a freshly generated
 * signing secret, the result of a webhook test. Kept beside the session in memory, taken on
 * reading, gone with the session.
 */
import type { Session } from '../session.js';

const pending = new WeakMap<Session, Map<string, unknown>>();

export function putOnce(session: Session, key: string, value: unknown): void {
  let m = pending.get(session);
  if (!m) pending.set(session, (m = new Map()));
  m.set(key, value);
}

/** The value put for `key`, removed so that it is shown only once. */
export function takeOnce<T>(session: Session, key: string): T | undefined {
  const m = pending.get(session);
  if (!m || !m.has(key)) return undefined;
  const v = m.get(key) as T;
  m.delete(key);
  return v;
}
