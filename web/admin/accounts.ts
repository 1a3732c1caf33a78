/**
 * Admin pages `accounts` and `accounts/:account`: accounts with their addresses; add and remove
 * (as `moxts config account add|rm`; removal also deletes the account's messages), addresses (as
 * `moxts config address add|rm`), password (as `moxts setaccountpassword`: ctl
 * "setaccountpassword"), send limits and quota (as `moxts config account limits`).
 */
import { FormError, type UiRouter, type UiRequest, type Page } from '../ui.js';
import { HttpError } from '../errors.js';
import { html } from '../html.js';
import { table, kv, postForm, postButton, input, checkbox } from '../components.js';
import type { Account } from '../../config/dynamic-schema.js';
import type { AdminDeps, AccountLimits } from './deps.js';

/** Shortest password the admin pages set (the CLI reads any). */
export const MIN_PASSWORD_LENGTH = 8;

export function accountPath(name: string): string {
  return `accounts/${encodeURIComponent(name)}`;
}

export function registerAccounts(router: UiRouter, deps: AdminDeps): void {
  const accountOf = (r: UiRequest): { name: string; acc: Account } => {
    const name = r.params.account ?? '';
    const acc = Object.hasOwn(deps.dynamic().Accounts, name) ? deps.dynamic().Accounts[name] : undefined;
    if (!acc) throw new HttpError(404, `no account ${JSON.stringify(name)}`);
    return { name, acc };
  };

  const listPage = (r: UiRequest): Page => {
    const dyn = deps.dynamic();
    const rows = Object.entries(dyn.Accounts)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, a]) => [
        html`<a href="${r.base}${accountPath(name)}">${name}</a>`,
        a.Domain,
        Object.keys(a.Destinations)
          .sort()
          .map((d, i) => html`${i ? html`<br>` : ''}${d}`),
        a.LoginDisabled ? html`login disabled: ${a.LoginDisabled}` : '',
      ]);
    return {
      title: 'Accounts',
      body: html`${table(['Account', 'Domain', 'Addresses', ''], rows, 'No accounts.')}
<h2>Add an account</h2>
<p class="muted">As <code>moxts config account add</code>. The address's domain must be configured. Set a password on the account's page afterwards.</p>
${postForm(
  r,
  'accounts/add',
  html`${input('Account name', 'name', { required: true, autocomplete: 'off' })}${input('First email address', 'address', { type: 'email', required: true, autocomplete: 'off' })}`,
  { submit: 'Add account', label: 'Add an account' },
)}`,
    };
  };
  router.get('accounts', listPage);
  router.get('accounts/add', listPage);
  router.post('accounts/add', async (r) => {
    const name = r.form.required('name', 'Account name');
    const address = r.form.required('address', 'Email address');
    await deps.config.addAccount(name, address);
    return { redirect: accountPath(name), ok: `Account ${name} added. Set its password below.` };
  });

  const accountPage = (r: UiRequest): Page => {
    const { name, acc } = accountOf(r);
    const addresses = Object.keys(acc.Destinations).sort();
    const base = accountPath(name);
    const limit = (v: number | undefined) => (v === undefined ? html`<span class="muted">default</span>` : v === 0 ? 'unlimited' : v.toLocaleString('en'));
    return {
      title: `Account ${name}`,
      body: html`${kv([
        ['Domain', html`<a href="${r.base}domains/${encodeURIComponent(acc.Domain)}">${acc.Domain}</a>`],
        ['Full name', acc.FullName ?? ''],
        ['Max outgoing messages per day', limit(acc.MaxOutgoingMessagesPerDay)],
        ['Max first-time recipients per day', limit(acc.MaxFirstTimeRecipientsPerDay)],
        ['Quota (total message size, bytes)', limit(acc.QuotaMessageSize)],
        ['Login', acc.LoginDisabled ? html`disabled: ${acc.LoginDisabled}` : 'enabled'],
      ])}
<p class="actions"><a href="${r.base}suppressions?account=${encodeURIComponent(name)}">Suppression list</a> <a href="${r.base}logins?account=${encodeURIComponent(name)}">Login attempts</a></p>
<h2>Addresses</h2>
${table(
  ['Address', ''],
  addresses.map((a) => [a, addresses.length > 1 ? postButton(r, `${base}/address/remove`, 'Remove', { address: a }, { secondary: true }) : html`<span class="muted">last address</span>`]),
)}
${postForm(r, `${base}/address/add`, input('New address (or @domain for a catchall)', 'address', { required: true, autocomplete: 'off' }), {
  layout: 'row',
  submit: 'Add address',
  label: 'Add an address',
})}
<h2>Password</h2>
${postForm(r, `${base}/password`, input('New password', 'password', { type: 'password', required: true, autocomplete: 'new-password' }), {
  layout: 'row',
  submit: 'Set password',
  label: 'Set the password',
})}
<h2>Send limits and quota</h2>
<p class="muted">Empty: the default.</p>
${postForm(
  r,
  `${base}/limits`,
  html`${input('Max outgoing messages per day', 'MaxOutgoingMessagesPerDay', { type: 'number', value: acc.MaxOutgoingMessagesPerDay })}${input(
    'Max first-time recipients per day',
    'MaxFirstTimeRecipientsPerDay',
    { type: 'number', value: acc.MaxFirstTimeRecipientsPerDay },
  )}${input('Quota: total message size in bytes (0: unlimited)', 'QuotaMessageSize', { type: 'number', value: acc.QuotaMessageSize })}`,
  { submit: 'Save limits', label: 'Send limits and quota' },
)}
<h2>Remove the account</h2>
<p class="muted">Removes the account from domains.conf (with the DMARC and TLS report settings of domains that deliver to it) and deletes all its messages.</p>
${postForm(r, `${base}/remove`, checkbox(html`Yes, remove ${name} and delete its messages`, 'confirm'), { layout: 'row', submit: `Remove ${name}`, label: 'Remove the account' })}`,
    };
  };
  router.get('accounts/:account', accountPage);
  for (const p of ['address/add', 'address/remove', 'password', 'limits', 'remove']) router.get(`accounts/:account/${p}`, accountPage);

  router.post('accounts/:account/address/add', async (r) => {
    const { name } = accountOf(r);
    const address = r.form.required('address', 'Address');
    await deps.config.addAddress(name, address);
    return { redirect: accountPath(name), ok: `Address ${address} added.` };
  });
  router.post('accounts/:account/address/remove', async (r) => {
    const { name, acc } = accountOf(r);
    const address = r.form.required('address', 'Address');
    if (!Object.hasOwn(acc.Destinations, address)) throw new FormError(`${address} is not an address of ${name}`);
    await deps.config.removeAddress(address);
    return { redirect: accountPath(name), ok: `Address ${address} removed.` };
  });
  router.post('accounts/:account/password', async (r) => {
    const { name } = accountOf(r);
    const password = r.form.get('password') ?? '';
    if (password.length < MIN_PASSWORD_LENGTH) throw new FormError(`The password must have at least ${MIN_PASSWORD_LENGTH} characters`);
    await deps.ctl('setaccountpassword', { account: name, password });
    return { redirect: accountPath(name), ok: `Password of ${name} set.` };
  });
  router.post('accounts/:account/limits', async (r) => {
    const { name } = accountOf(r);
    const limits: AccountLimits = {
      MaxOutgoingMessagesPerDay: r.form.int('MaxOutgoingMessagesPerDay', 'Max outgoing messages per day', { min: 0, max: Number.MAX_SAFE_INTEGER }),
      MaxFirstTimeRecipientsPerDay: r.form.int('MaxFirstTimeRecipientsPerDay', 'Max first-time recipients per day', { min: 0, max: Number.MAX_SAFE_INTEGER }),
      QuotaMessageSize: r.form.int('QuotaMessageSize', 'Quota', { min: 0, max: Number.MAX_SAFE_INTEGER }),
    };
    await deps.config.setAccountLimits(name, limits);
    return { redirect: accountPath(name), ok: `Limits of ${name} saved.` };
  });
  router.post('accounts/:account/remove', async (r) => {
    const { name } = accountOf(r);
    if (!r.form.checkbox('confirm')) throw new FormError('Tick the box to confirm removing the account and its messages');
    await deps.config.removeAccount(name);
    return { redirect: 'accounts', ok: `Account ${name} removed with its messages.` };
  });
}
