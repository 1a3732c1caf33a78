/**
 * Admin pages `domains` and `domains/:domain`: the configured domains; add and remove (as
 * `moxts config domain add|rm`), DKIM selectors with their Sign flag, add/remove a selector (as
 * `moxts config dkim add|rm`), the DNS records to publish (as `moxts config dnsrecords`) and, on
 * `domains/:domain/check`, a live check of what is published, through the server's resolver
 * (dns/check.ts).
 */
import { basename } from 'node:path';
import { FormError, type UiRouter, type UiRequest, type Page } from '../ui.js';
import { HttpError } from '../errors.js';
import { html, type HtmlValue } from '../html.js';
import { table, kv, postForm, postButton, input, select, checkbox } from '../components.js';
import { findDomain } from '../../config/lookup.js';
import { parseAddress, normalizeDomain } from '../../config/address.js';
import { checkRecords, type CheckStatus } from '../../dns/check.js';
import type { Domain } from '../../config/dynamic-schema.js';
import type { AdminDeps } from './deps.js';

const STATUS_TEXT: Record<CheckStatus, string> = { ok: 'OK', missing: 'missing', different: 'different', error: 'lookup failed' };

/** Path below /admin/ of a domain's page. */
export function domainPath(domain: string): string {
  return `domains/${encodeURIComponent(domain)}`;
}

/** The addresses (and catchalls) of all accounts in a domain: [address, account]. */
function domainAddresses(deps: AdminDeps, key: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [name, acc] of Object.entries(deps.dynamic().Accounts)) {
    for (const addr of Object.keys(acc.Destinations)) {
      const d = addr.startsWith('@') ? normalizeDomain(addr.slice(1)) : parseAddress(addr)?.domain;
      if (d === key) out.push([addr, name]);
    }
  }
  return out.sort(([a], [b]) => a.localeCompare(b));
}

export function registerDomains(router: UiRouter, deps: AdminDeps): void {
  /** The configured domain named in the path, else 404. */
  const domainOf = (r: UiRequest): { key: string; domain: Domain } => {
    const d = findDomain(deps.dynamic(), r.params.domain ?? '');
    if (!d) throw new HttpError(404, `no domain ${JSON.stringify(r.params.domain ?? '')}`);
    return d;
  };
  const accountLink = (r: UiRequest, name: string) => html`<a href="${r.base}accounts/${encodeURIComponent(name)}">${name}</a>`;

  const listPage = (r: UiRequest): Page => {
    const dyn = deps.dynamic();
    const rows = Object.entries(dyn.Domains)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, d]) => [
        html`<a href="${r.base}${domainPath(name)}">${name}</a>`,
        d.Disabled ? 'disabled' : 'active',
        d.Description ?? '',
        Object.keys(d.DKIM?.Selectors ?? {}).join(', '),
        domainAddresses(deps, name).length,
      ]);
    return {
      title: 'Domains',
      body: html`${table(['Domain', 'Status', 'Description', 'DKIM selectors', 'Addresses'], rows, 'No domains.')}
<h2>Add a domain</h2>
<p class="muted">As <code>moxts config domain add</code>: new DKIM keys (ed25519 and RSA) are created and signing starts with them; DMARC and TLS reports go to the account, which is created (with the address localpart@domain) if it does not exist.</p>
${postForm(
  r,
  'domains/add',
  html`${input('Domain', 'domain', { required: true, placeholder: 'example.com', autocomplete: 'off' })}${input('Account', 'account', {
    required: true,
    placeholder: 'existing or new account name',
    autocomplete: 'off',
  })}${input('Localpart for a new account', 'localpart', { value: 'postmaster', autocomplete: 'off' })}`,
  { submit: 'Add domain', label: 'Add a domain' },
)}`,
    };
  };
  router.get('domains', listPage);
  router.get('domains/add', listPage);
  router.post('domains/add', async (r) => {
    const domain = r.form.required('domain', 'Domain');
    const account = r.form.required('account', 'Account');
    const localpart = r.form.text('localpart') || 'postmaster';
    await deps.config.addDomain(domain, account, localpart);
    const d = findDomain(deps.dynamic(), domain);
    return { redirect: d ? domainPath(d.key) : 'domains', ok: `Domain ${d?.key ?? domain} added. Publish the DNS records below.` };
  });

  const domainPage = async (r: UiRequest): Promise<Page> => {
    const { key, domain } = domainOf(r);
    const [zone, expected] = await Promise.all([deps.config.dnsRecords(key), deps.config.expectedRecords(key)]);
    const keyType = new Map(expected.filter((e) => e.purpose.startsWith('DKIM ')).map((e) => [e.purpose.slice(5), /(?:^|;)\s*k=([^;\s]+)/.exec(e.value)?.[1] ?? 'rsa']));
    const sign = new Set(domain.DKIM?.Sign ?? []);
    const selectors = Object.entries(domain.DKIM?.Selectors ?? {}).sort(([a], [b]) => a.localeCompare(b));
    const report = (x: { Localpart: string; Account: string; Mailbox: string } | undefined): HtmlValue =>
      x ? html`${x.Localpart}@${key} → ${accountLink(r, x.Account)}, mailbox ${x.Mailbox}` : html`<span class="muted">not configured</span>`;
    const addresses = domainAddresses(deps, key);
    return {
      title: `Domain ${key}`,
      body: html`${kv([
        ['Status', domain.Disabled ? 'disabled' : 'active'],
        ['Description', domain.Description ?? ''],
        ['Client settings host', domain.ClientSettingsDomain ?? deps.static.Hostname],
        ['Catchall separator', domain.LocalpartCatchallSeparators?.join(' ') ?? domain.LocalpartCatchallSeparator ?? ''],
        ['DMARC reports', report(domain.DMARC)],
        ['TLS reports', report(domain.TLSRPT)],
        ['MTA-STS', domain.MTASTS ? `${domain.MTASTS.Mode}, policy id ${domain.MTASTS.PolicyID}` : html`<span class="muted">not configured</span>`],
      ])}
<h2>Addresses</h2>
${table(['Address', 'Account'], addresses.map(([a, n]) => [a, accountLink(r, n)]), 'No account has an address in this domain.')}
<h2>DKIM selectors</h2>
${table(
  ['Selector', 'Key type', 'Sign', 'Hash', 'Private key file', ''],
  selectors.map(([name, s]) => [
    name,
    keyType.get(name) ?? '',
    sign.has(name) ? 'yes' : 'no',
    s.Hash,
    basename(s.PrivateKeyFile),
    postButton(r, `${domainPath(key)}/dkim/remove`, 'Remove', { selector: name }, { danger: true }),
  ]),
  'No DKIM selectors: outgoing messages are not signed.',
)}
${postForm(
  r,
  `${domainPath(key)}/dkim/add`,
  html`${input('New selector', 'selector', { required: true, placeholder: `${deps.clock().getUTCFullYear()}c`, autocomplete: 'off', size: 12 })}${select('Key type', 'algorithm', [
    ['ed25519', 'ed25519'],
    ['rsa', 'RSA 2048'],
  ])}${checkbox('Sign with it now (publish the key first)', 'sign')}`,
  { layout: 'row', submit: 'Add selector', label: 'Add a DKIM selector' },
)}
<h2>DNS records to publish</h2>
<p class="muted">The same as <code>moxts config dnsrecords ${key}</code>. <a href="${r.base}${domainPath(key)}/check">Check what is published now</a>.</p>
<pre>${zone}</pre>
<h2>Remove the domain</h2>
<p class="muted">Refused while accounts have addresses in it. DKIM key files are kept.</p>
${postButton(r, `${domainPath(key)}/remove`, `Remove ${key}`, {}, { danger: true })}`,
    };
  };
  router.get('domains/:domain', domainPage);
  // The paths of the forms show the domain page again when an action is refused.
  for (const p of ['remove', 'dkim/add', 'dkim/remove']) router.get(`domains/:domain/${p}`, domainPage);

  router.post('domains/:domain/remove', async (r) => {
    const { key } = domainOf(r);
    await deps.config.removeDomain(key);
    return { redirect: 'domains', ok: `Domain ${key} removed.` };
  });
  router.post('domains/:domain/dkim/add', async (r) => {
    const { key } = domainOf(r);
    const selector = r.form.required('selector', 'Selector');
    const alg = r.form.text('algorithm') || 'ed25519';
    if (alg !== 'ed25519' && alg !== 'rsa') throw new FormError('Key type must be ed25519 or rsa');
    const sign = r.form.checkbox('sign');
    await deps.config.addDkimSelector(key, selector, alg, sign);
    return { redirect: domainPath(key), ok: `Selector ${selector} added${sign ? ' and signing' : ''}. Publish its DKIM record.` };
  });
  router.post('domains/:domain/dkim/remove', async (r) => {
    const { key } = domainOf(r);
    const selector = r.form.required('selector', 'Selector');
    await deps.config.removeDkimSelector(key, selector);
    return { redirect: domainPath(key), ok: `Selector ${selector} removed.` };
  });

  router.get('domains/:domain/check', async (r) => {
    const { key } = domainOf(r);
    const checks = await checkRecords(deps.resolver, await deps.config.expectedRecords(key));
    const counts = { ok: 0, missing: 0, different: 0, error: 0 };
    for (const c of checks) counts[c.status]++;
    return {
      title: `DNS check of ${key}`,
      body: html`<p>Looked up now through the server's resolver: ${counts.ok} OK, ${counts.missing} missing, ${counts.different} different${
        counts.error ? html`, ${counts.error} failed lookups` : ''
      }. <a href="${r.base}${domainPath(key)}">Back to ${key}</a>.</p>
${table(
  ['Status', 'Record', 'Name', 'Type', 'Expected', 'Found'],
  checks.map((c) => [
    html`<strong class="check-${c.status}">${STATUS_TEXT[c.status]}</strong>`,
    c.purpose,
    html`<code>${c.name}</code>`,
    c.type,
    html`<code class="small">${c.value}</code>`,
    c.error ? html`<span class="muted">${c.error}</span>` : c.found.length ? c.found.map((f) => html`<code class="small">${f}</code><br>`) : html`<span class="muted">nothing</span>`,
  ]),
)}`,
    };
  });
}
