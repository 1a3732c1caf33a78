/**
 * Admin pages `domains` and `domains/:domain`: the configured domains; add and remove (as
 * `moxts config domain add|rm`), DKIM selectors, the DNS records to publish (as `moxts config
 * dnsrecords`) and a live check of what is published, through the server's resolver.
 */
import type { UiRouter } from '../ui.js';
import { html } from '../html.js';
import { table } from '../components.js';
import type { AdminDeps } from './deps.js';

export function registerDomains(router: UiRouter, deps: AdminDeps): void {
  router.get('domains', (r) => {
    const dyn = deps.dynamic();
    const rows = Object.entries(dyn.Domains)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, d]) => [html`<a href="${r.base}domains/${encodeURIComponent(name)}">${name}</a>`, d.Description ?? '', Object.keys(d.DKIM?.Selectors ?? {}).join(', ')]);
    return { title: 'Domains', body: table(['Domain', 'Description', 'DKIM selectors'], rows, 'No domains.') };
  });
}
