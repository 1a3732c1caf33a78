/**
 * Admin pages `accounts` and `accounts/:account`: accounts with their addresses; add and remove
 * (as `moxts config account add|rm`), addresses, password (as `moxts setaccountpassword`), send
 * limits and quota.
 */
import type { UiRouter } from '../ui.js';
import { html } from '../html.js';
import { table } from '../components.js';
import type { AdminDeps } from './deps.js';

export function registerAccounts(router: UiRouter, deps: AdminDeps): void {
  router.get('accounts', (r) => {
    const dyn = deps.dynamic();
    const rows = Object.entries(dyn.Accounts)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, a]) => [html`<a href="${r.base}accounts/${encodeURIComponent(name)}">${name}</a>`, Object.keys(a.Destinations).join(', ')]);
    return { title: 'Accounts', body: table(['Account', 'Addresses'], rows, 'No accounts.') };
  });
}
