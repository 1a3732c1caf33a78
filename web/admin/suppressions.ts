/**
 * Admin page `suppressions`: the suppression lists of all accounts (queue.db), filtered by
 * account; add and remove entries. Changes go through the CLI's control commands
 * (`moxts queue suppress add|remove` → ctl "queue" op suppress-add/suppress-remove).
 */
import { FormError, type UiRouter, type UiRequest, type Page } from '../ui.js';
import { html } from '../html.js';
import { table, time, getForm, select, postForm, postButton, input } from '../components.js';
import { parseAddress } from '../../config/address.js';
import type { Suppression } from '../../queue/store.js';
import type { AdminDeps } from './deps.js';

export function registerSuppressions(router: UiRouter, deps: AdminDeps): void {
  const accountNames = () => Object.keys(deps.dynamic().Accounts).sort();
  /** An account of the config named in a form, else FormError. */
  const formAccount = (v: string): string => {
    if (!Object.hasOwn(deps.dynamic().Accounts, v)) throw new FormError(`no such account ${JSON.stringify(v)}`);
    return v;
  };
  const back = (account: string | undefined) => (account ? `suppressions?account=${encodeURIComponent(account)}` : 'suppressions');

  const listPage = async (r: UiRequest): Promise<Page> => {
    const accounts = accountNames();
    const account = r.query.get('account') || undefined;
    const list = (await deps.ctl('queue', { op: 'suppress-list', ...(account !== undefined ? { account } : {}) })) as Suppression[];
    const rows = list.map((s) => [
      s.account,
      s.baseAddress,
      s.originalAddress,
      s.manual ? 'manual' : 'automatic',
      time(s.created),
      s.reason,
      postButton(r, 'suppressions/remove', 'Remove', { account: s.account, address: s.baseAddress, ...(account !== undefined ? { filter: account } : {}) }, { danger: true }),
    ]);
    const options = accounts.map((a) => [a, a] as const);
    return {
      title: 'Suppression lists',
      body: html`<p class="muted">Messages from an account to an address on its suppression list are not delivered (the recipient fails at once). Addresses are added automatically on permanent failures, or by hand.</p>
${getForm(`${r.base}suppressions`, select('Account', 'account', [['', 'All accounts'], ...options], account ?? ''))}
${table(['Account', 'Base address', 'Original address', 'Added', 'Created', 'Reason', ''], rows, account ? html`The suppression list of ${account} is empty.` : 'No suppressions.')}
<h2>Add an address</h2>
${postForm(
  r,
  'suppressions/add',
  html`${select('Account', 'account', options, account ?? accounts[0])}${input('Email address', 'address', { type: 'email', required: true })}${input('Reason', 'reason', {
    value: 'added by admin',
  })}`,
  { submit: 'Add to suppression list', label: 'Add a suppression' },
)}`,
    };
  };
  router.get('suppressions', listPage);
  // The form's own path, so a refused add shows the list and form again with the error.
  router.get('suppressions/add', listPage);

  router.post('suppressions/add', async (r) => {
    const account = formAccount(r.form.required('account', 'Account'));
    const address = r.form.required('address', 'Email address');
    const a = parseAddress(address);
    if (!a) throw new FormError(`not a valid email address: ${address}`);
    const normalized = `${a.localpart}@${a.domain}`;
    const added = (await deps.ctl('queue', { op: 'suppress-add', account, address: normalized, reason: r.form.text('reason') || 'added by admin' })) as boolean;
    if (!added) throw new FormError(`${normalized} is already on the suppression list of ${account}`);
    return { redirect: back(account), ok: `${normalized} added to the suppression list of ${account}.` };
  });

  router.post('suppressions/remove', async (r) => {
    const account = r.form.required('account', 'Account');
    const address = r.form.required('address', 'Email address');
    const filter = r.form.text('filter') || undefined;
    const removed = (await deps.ctl('queue', { op: 'suppress-remove', account, address })) as boolean;
    if (!removed) return { redirect: back(filter), error: `${address} is not on the suppression list of ${account}.` };
    return { redirect: back(filter), ok: `${address} removed from the suppression list of ${account}.` };
  });
}
