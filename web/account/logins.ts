/**
 * `logins`: this account's own login attempts (SMTP submission, IMAP, webapi, these pages),
 * newest first, a page at a time (keyset on time and id, auth/authdb.ts). Attempts with an
 * unknown login name have no account and are not shown here (the admin sees them).
 */
import { html } from '../html.js';
import { table, time } from '../components.js';
import type { AttemptCursor } from '../../auth/authdb.js';
import type { UiRouter } from '../ui.js';
import type { AccountDeps } from './deps.js';

/** Attempts per page. */
export const LOGINS_PAGE_SIZE = 50;

/** "time.id" from the query (`before`), undefined when absent or malformed. */
export function parseCursor(v: string | null): AttemptCursor | undefined {
  const m = v ? /^(\d{1,16})\.(\d{1,16})$/.exec(v) : null;
  return m ? { time: Number(m[1]), id: Number(m[2]) } : undefined;
}

export function registerLogins(router: UiRouter, deps: AccountDeps): void {
  router.get('logins', (r) => {
    const before = parseCursor(r.query.get('before'));
    const page = deps.authDb.recentAttempts({ account: r.session.account!, limit: LOGINS_PAGE_SIZE, before });
    return {
      title: 'Logins',
      body: html`<p>Login attempts with an address of this account over the last 30 days, newest first. Check for attempts you do not recognise; change your password if there are successful ones.</p>
${table(
  ['Time', 'Result', 'Protocol', 'Method', 'Login name', 'From IP', 'TLS', 'Client'],
  page.attempts.map((a) => [
    time(a.time),
    html`<span class="${a.result === 'ok' ? 'ok' : 'muted'}">${a.result}</span>`,
    a.protocol,
    a.mechanism,
    a.loginName,
    a.remoteIP,
    a.tls ?? 'no',
    a.userAgent ?? '',
  ]),
  before ? 'No older attempts.' : 'No login attempts.',
)}
<p class="actions">${before ? html`<a href="${r.base}logins">Newest</a>` : ''}${page.next ? html` <a href="${r.base}logins?before=${page.next.time}.${page.next.id}" rel="next">Older</a>` : ''}</p>`,
    };
  });
}
