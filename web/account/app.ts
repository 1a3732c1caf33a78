/**
 * The account pages (`/account/` in localserve; mox.conf AccountHTTP/AccountHTTPS): a user logs in
 * with an email address of their account and its password and manages their own account only:
 * password, webhooks, FromID login addresses, retention, suppression list, login attempts. Every
 * page reads `r.session.account`; no page takes an account name from the request.
 */
import { UiRouter, type UiApp } from '../ui.js';
import { SessionStore, ACCOUNT_SESSION_LIMITS } from '../session.js';
import { accountLogin } from '../login.js';
import { html } from '../html.js';
import { kv, table } from '../components.js';
import type { AccountDeps } from './deps.js';

export const ACCOUNT_NAV = [
  ['', 'Account'],
  ['password', 'Password'],
  ['webhooks', 'Webhooks'],
  ['suppressions', 'Suppressions'],
  ['logins', 'Logins'],
] as const;

export function accountApp(deps: AccountDeps): UiApp {
  const router = new UiRouter();
  router.get('', (r) => {
    const name = r.session.account!;
    const acc = deps.dynamic().Accounts[name];
    return {
      title: 'Account',
      body: html`${kv([
        ['Account', name],
        ['Logged in as', r.session.loginName],
      ])}<h2>Addresses</h2>${table(['Address'], Object.keys(acc?.Destinations ?? {}).map((a) => [a]))}`,
    };
  });
  return {
    name: 'account',
    title: 'moxts account',
    nav: ACCOUNT_NAV,
    sessions: new SessionStore(ACCOUNT_SESSION_LIMITS, () => deps.clock().getTime()),
    askUsername: true,
    login: accountLogin(deps.loginGuard),
    router,
    log: deps.log,
  };
}
