// rfc2971 ID: we answer with our name; the client's name/version goes into login attempt records.
import type { Session } from '../session.js';

export async function id(s: Session, _tag: string, c: { params: Array<[string, string | null]> | null }): Promise<string | void> {
  if (c.params) {
    const get = (k: string) => c.params!.find(([n]) => n.toLowerCase() === k)?.[1] ?? undefined;
    const name = get('name');
    const version = get('version');
    if (name) s.clientId = `${name}${version ? '/' + version : ''}`.slice(0, 200);
  }
  s.w.line('* ID ("name" "moxts")');
}
