/**
 * The admin pages (`/admin/`, mox.conf AdminHTTP/AdminHTTPS): log in with the admin password;
 * domains, accounts, queue, hold rules, retired messages, webhooks, suppression lists and login
 * attempts. Each area is one module that adds its routes to the router; every action calls the
 * same code as the CLI (deps.ctl, the config-editing functions).
 */
import { UiRouter, type UiApp } from '../ui.js';
import { SessionStore, ADMIN_SESSION_LIMITS } from '../session.js';
import { adminLogin } from '../login.js';
import { html } from '../html.js';
import { kv } from '../components.js';
import type { AdminDeps } from './deps.js';
import { registerDomains } from './domains.js';
import { registerAccounts } from './accounts.js';
import { registerSuppressions } from './suppressions.js';
import { registerLogins } from './logins.js';
import { registerQueuePages } from './queue.js';
import { registerHoldRulePages } from './holdrules.js';
import { registerRetiredPages } from './retired.js';
import { registerWebhookPages } from './webhooks.js';

export const ADMIN_NAV = [
  ['', 'Overview'],
  ['domains', 'Domains'],
  ['accounts', 'Accounts'],
  ['queue', 'Queue'],
  ['holdrules', 'Hold rules'],
  ['retired', 'Retired'],
  ['webhooks', 'Webhooks'],
  ['suppressions', 'Suppressions'],
  ['logins', 'Logins'],
] as const;

export function adminApp(deps: AdminDeps): UiApp {
  const router = new UiRouter();
  router.get('', () => {
    const dyn = deps.dynamic();
    return {
      title: 'Overview',
      body: html`${kv([
        ['Hostname', deps.static.Hostname],
        ['Domains', Object.keys(dyn.Domains).length],
        ['Accounts', Object.keys(dyn.Accounts).length],
        ['Queued messages', deps.queue.count()],
        ['Held messages', deps.queue.count({ hold: true })],
      ])}`,
    };
  });
  registerDomains(router, deps);
  registerAccounts(router, deps);
  registerSuppressions(router, deps);
  registerLogins(router, deps);
  registerQueuePages(router, deps);
  registerHoldRulePages(router, deps);
  registerRetiredPages(router, deps);
  registerWebhookPages(router, deps);
  return {
    name: 'admin',
    title: 'moxts admin',
    nav: ADMIN_NAV,
    sessions: deps.sessions ?? new SessionStore(ADMIN_SESSION_LIMITS, () => deps.clock().getTime()),
    askUsername: false,
    login: adminLogin(deps.loginGuard, deps.adminPasswordHash),
    router,
    log: deps.log,
  };
}
