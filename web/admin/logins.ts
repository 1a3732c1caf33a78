/**
 * Admin page `logins`: recent login attempts of every account (auth.db, newest first), with a
 * filter by account and keyset pagination (`before` = "time.id" of the last row shown).
 */
import type { UiRouter } from '../ui.js';
import { html } from '../html.js';
import { table, time, getForm, select } from '../components.js';
import type { AttemptCursor } from '../../auth/authdb.js';
import type { AdminDeps } from './deps.js';

/** Attempts per page. */
export const LOGINS_PAGE_SIZE = 50;

/** "time.id" → cursor; undefined when absent or malformed. */
function parseCursor(s: string | null): AttemptCursor | undefined {
  const m = /^(\d{1,15})\.(\d{1,15})$/.exec(s ?? '');
  return m ? { time: Number(m[1]), id: Number(m[2]) } : undefined;
}

export function registerLogins(router: UiRouter, deps: AdminDeps): void {
  router.get('logins', (r) => {
    const accounts = Object.keys(deps.dynamic().Accounts).sort();
    const account = r.query.get('account') || undefined;
    const before = parseCursor(r.query.get('before'));
    const page = deps.authDb.recentAttempts({ limit: LOGINS_PAGE_SIZE, ...(account !== undefined ? { account } : {}), ...(before ? { before } : {}) });
    const rows = page.attempts.map((a) => [
      time(a.time),
      a.account ?? html`<span class="muted">(unknown)</span>`,
      a.loginName,
      a.protocol,
      a.mechanism,
      a.remoteIP,
      a.tls ?? '',
      a.userAgent ?? '',
      a.result,
    ]);
    const q = (c: AttemptCursor) => {
      const p = new URLSearchParams();
      if (account !== undefined) p.set('account', account);
      p.set('before', `${c.time}.${c.id}`);
      return `${r.base}logins?${p.toString()}`;
    };
    return {
      title: 'Login attempts',
      body: html`${getForm(`${r.base}logins`, select('Account', 'account', [['', 'All accounts'], ...accounts.map((a) => [a, a] as const)], account ?? ''))}
${table(['Time', 'Account', 'Login name', 'Protocol', 'Mechanism', 'Remote IP', 'TLS', 'User agent', 'Result'], rows, 'No login attempts.')}
<p class="actions">${before ? html`<a href="${r.base}logins${account !== undefined ? `?account=${encodeURIComponent(account)}` : ''}">Newest</a>` : ''}${
        page.next ? html` <a href="${q(page.next)}" rel="next">Older attempts</a>` : ''
      }</p>`,
    };
  });
}
