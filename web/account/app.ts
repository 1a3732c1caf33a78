/**
 * The account pages (`/account/` in localserve; mox.conf AccountHTTP/AccountHTTPS): a user logs in
 * with an email address of their account and its password and manages their own account only:
 * password, webhooks, FromID login addresses, retention, suppression list, login attempts. Every
 * page reads `r.session.account`; no page takes an account name from the request.
 * One module per area registers its routes here.
 */
import { UiRouter, type UiApp, type UiHandler } from '../ui.js';
import { HttpError } from '../errors.js';
import { SessionStore, ACCOUNT_SESSION_LIMITS } from '../session.js';
import { accountLogin } from '../login.js';
import { html } from '../html.js';
import { kv, table } from '../components.js';
import { formatDuration } from '../../config/duration.js';
import type { AccountDeps } from './deps.js';
import { registerPassword } from './password.js';
import { registerWebhooks } from './webhooks.js';
import { registerSettings } from './settings.js';
import { registerSuppressions } from './suppressions.js';
import { registerLogins } from './logins.js';

export const ACCOUNT_NAV = [
  ['', 'Account'],
  ['password', 'Password'],
  ['webhooks', 'Webhooks'],
  ['settings', 'Settings'],
  ['suppressions', 'Suppressions'],
  ['logins', 'Logins'],
] as const;

/** Routes whose handlers first check that the session's account still exists (it may be removed while logged in). */
class AccountRouter extends UiRouter {
  constructor(private readonly exists: (account: string) => boolean) {
    super();
  }
  override get(pattern: string, h: UiHandler): this {
    return super.get(pattern, this.guard(h));
  }
  override post(pattern: string, h: UiHandler): this {
    return super.post(pattern, this.guard(h));
  }
  private guard(h: UiHandler): UiHandler {
    return (r) => {
      if (!r.session.account || !this.exists(r.session.account)) throw new HttpError(403, 'This account no longer exists; log out.');
      return h(r);
    };
  }
}

export function accountApp(deps: AccountDeps): UiApp {
  const router = new AccountRouter((a) => Object.hasOwn(deps.dynamic().Accounts, a));
  const sessions = deps.sessions ?? new SessionStore(ACCOUNT_SESSION_LIMITS, () => deps.clock().getTime());
  router.get('', (r) => {
    const name = r.session.account!;
    const acc = deps.dynamic().Accounts[name];
    const on = (v: unknown) => (v ? 'configured' : 'not configured');
    return {
      title: 'Account',
      body: html`${kv([
        ['Account', name],
        ['Logged in as', r.session.loginName],
        ['Outgoing webhook', html`${on(acc?.OutgoingWebhook)} (<a href="${r.base}webhooks">webhooks</a>)`],
        ['Incoming webhook', on(acc?.IncomingWebhook)],
        ['FromID login addresses', acc?.FromIDLoginAddresses?.length ? acc.FromIDLoginAddresses.join(', ') : 'none'],
        ['Keep finished messages', formatDuration(acc?.KeepRetiredMessagePeriod ?? 0)],
        ['Keep finished webhooks', formatDuration(acc?.KeepRetiredWebhookPeriod ?? 0)],
      ])}<h2>Addresses</h2>${table(['Address'], Object.keys(acc?.Destinations ?? {}).map((a) => [a]))}`,
    };
  });
  registerPassword(router, deps);
  registerWebhooks(router, deps);
  registerSettings(router, deps);
  registerSuppressions(router, deps);
  registerLogins(router, deps);
  return {
    name: 'account',
    title: 'moxts account',
    nav: ACCOUNT_NAV,
    sessions,
    askUsername: true,
    login: accountLogin(deps.loginGuard),
    router,
    log: deps.log,
  };
}
