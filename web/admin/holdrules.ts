/**
 * Admin page of the queue's hold rules (`holdrules`): list, add, remove, as `moxts queue
 * holdrules list|add|remove` (control command "queue", ops holdrules-*). A message queued while a
 * rule matches it is held; adding a rule also holds the queued messages it matches.
 */
import type { UiRouter } from '../ui.js';
import { FormError } from '../ui.js';
import { html } from '../html.js';
import { table, postForm, postButton, input, select } from '../components.js';
import type { AdminDeps } from './deps.js';
import { ctl, accountOptions, field, idParam } from './common.js';

interface RuleJson {
  id: number;
  account: string;
  senderDomain: string;
  recipientDomain: string;
}

/** A domain name as typed in a hold rule (ASCII or Unicode labels), or "" for any. */
function domainField(v: string, label: string): string {
  const d = v.trim().toLowerCase().replace(/\.$/, '');
  if (d === '') return '';
  if (d.length > 253 || /[\s@/\\<>"'`,;:]/.test(d) || d.split('.').some((l) => l === '' || l.length > 63)) throw new FormError(`${label}: "${v}" is not a domain name`);
  return d;
}

export function registerHoldRulePages(router: UiRouter, deps: AdminDeps): void {
  router.get('holdrules', async (r) => {
    const rules = await ctl<RuleJson[]>(deps, 'queue', { op: 'holdrules-list' });
    const rows = rules.map((x) => [
      x.id,
      x.account || html`<span class="muted">any</span>`,
      x.senderDomain || html`<span class="muted">any</span>`,
      x.recipientDomain || html`<span class="muted">any</span>`,
      postButton(r, 'holdrules/remove', 'Remove', { id: x.id }, { secondary: true }),
    ]);
    return {
      title: 'Hold rules',
      body: html`<p>Messages matching a rule are held when they are queued; release them on the <a href="${r.base}queue?hold=yes">queue</a> page. A rule matches a message when every field it sets matches (empty fields match anything); adding a rule also holds the queued messages it matches. A rule with no fields holds everything. Removing a rule does not release held messages.</p>
${table(['Id', 'Account', 'Sender domain', 'Recipient domain', ''], rows, 'No hold rules.')}
<h2>Add a hold rule</h2>
${postForm(
  r,
  'holdrules',
  html`${select('Account', 'account', accountOptions(deps), '')}${input('Sender domain', 'senderdomain', { placeholder: 'example.com' })}${input('Recipient domain', 'recipientdomain', { placeholder: 'example.org' })}`,
  { submit: 'Add hold rule', label: 'Add a hold rule' },
)}`,
    };
  });

  router.post('holdrules', async (r) => {
    const account = field(r.form, 'account');
    if (account && !deps.dynamic().Accounts[account]) throw new FormError(`No such account "${account}"`);
    const senderDomain = domainField(field(r.form, 'senderdomain'), 'Sender domain');
    const recipientDomain = domainField(field(r.form, 'recipientdomain'), 'Recipient domain');
    const res = await ctl<{ rule: RuleJson; held: number }>(deps, 'queue', { op: 'holdrules-add', account, senderDomain, recipientDomain });
    return { redirect: 'holdrules', ok: `Hold rule ${res.rule.id} added; ${res.held} queued message${res.held === 1 ? '' : 's'} now held.` };
  });

  router.post('holdrules/remove', async (r) => {
    const id = idParam(field(r.form, 'id'));
    await ctl(deps, 'queue', { op: 'holdrules-remove', id });
    return { redirect: 'holdrules', ok: `Hold rule ${id} removed; messages it held stay held until released.` };
  });
}
