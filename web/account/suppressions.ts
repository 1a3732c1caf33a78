/**
 * `suppressions`: the account's suppression list (mox §3.9): addresses mail is not sent to
 * (checked at delivery), added automatically after hard bounces and complaints, or by hand
 * here. The same queue-store calls as the webapi's SuppressionList/Add/Remove; always the
 * session's account, so a form cannot list or change another account's entries.
 */
import { parseAddress } from '../../config/address.js';
import { baseAddress } from '../../queue/rules.js';
import { html } from '../html.js';
import { input, postButton, postForm, table, time } from '../components.js';
import { FormError, type Page, type UiRequest, type UiRouter } from '../ui.js';
import { orPage } from './edit.js';
import type { AccountDeps } from './deps.js';

/** Longest reason kept (it is shown in lists and webhooks). */
export const MAX_REASON_LENGTH = 1000;

/** "localpart@domain" with the domain normalised, or FormError. */
function address(v: string): string {
  const a = parseAddress(v);
  if (!a) throw new FormError(`Not a valid email address: ${JSON.stringify(v)}.`);
  return `${a.localpart}@${a.domain}`;
}

export function registerSuppressions(router: UiRouter, deps: AccountDeps): void {
  const page = (r: UiRequest): Page => {
    const list = deps.queue.listSuppressions(r.session.account!);
    return {
      title: 'Suppressions',
      body: html`<p>Messages to these addresses are not delivered: they fail at once with the event <code>suppressed</code>. Addresses are compared by their base (without dots, and without a "+…" or "-…" suffix in the localpart).</p>
${table(
  ['Address', 'Base address', 'Added', 'How', 'Reason', ''],
  list.map((s) => [
    s.originalAddress,
    s.baseAddress,
    time(s.created),
    s.manual ? 'by hand' : 'automatic',
    s.reason,
    postButton(r, 'suppressions/remove', 'Remove', { address: s.baseAddress }, { secondary: true }),
  ]),
  'No suppressed addresses.',
)}
<h2>Add an address</h2>
${postForm(r, 'suppressions/add', html`${input('Email address', 'address', { type: 'email', required: true })}${input('Reason', 'reason', { placeholder: 'optional' })}`, {
  layout: 'row',
  submit: 'Add',
  label: 'add suppression',
})}`,
    };
  };
  router.get('suppressions', page);

  router.post('suppressions/add', orPage(page, (r) => {
    const account = r.session.account!;
    const addr = address(r.form.required('address', 'Email address'));
    const reason = r.form.text('reason');
    if (reason.length > MAX_REASON_LENGTH) throw new FormError(`The reason is too long (at most ${MAX_REASON_LENGTH} characters).`);
    if (!deps.queue.addSuppression(account, addr, { manual: true, reason })) throw new FormError(`${baseAddress(addr)} is already on the suppression list.`);
    return { redirect: 'suppressions', ok: `${addr} added to the suppression list.` };
  }));

  router.post('suppressions/remove', orPage(page, (r) => {
    const account = r.session.account!;
    const addr = address(r.form.required('address', 'Email address'));
    if (!deps.queue.removeSuppression(account, addr)) throw new FormError(`${baseAddress(addr)} is not on your suppression list.`);
    return { redirect: 'suppressions', ok: `${baseAddress(addr)} removed from the suppression list.` };
  }));
}
