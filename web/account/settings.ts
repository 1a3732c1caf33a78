/**
 * `settings`: FromIDLoginAddresses (login addresses whose submitted messages get a unique SMTP
 * MAIL FROM, to match DSNs; mox §3.7) and retention of finished messages and webhooks
 * (KeepRetiredMessagePeriod, KeepRetiredWebhookPeriod, Go durations such as "72h"), saved to
 * domains.conf through config/write.ts setAccountFields, as the CLI's edits.
 */
import { formatDuration, parseDuration } from '../../config/duration.js';
import type { AccountFields } from '../../config/write.js';
import { html } from '../html.js';
import { checkbox, input, postForm } from '../components.js';
import { FormError, type UiRouter } from '../ui.js';
import type { AccountDeps } from './deps.js';
import { editConfig } from './edit.js';

/** Longest retention accepted from the page (10 years); the config file itself has no limit. */
export const MAX_RETENTION_MS = 10 * 365 * 24 * 3_600_000;

function retention(value: string, label: string): string {
  if (!value) throw new FormError(`${label} is required ("0s" keeps nothing).`);
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch (e) {
    throw new FormError(`${label}: ${(e as Error).message}`);
  }
  if (ms < 0) throw new FormError(`${label} cannot be negative.`);
  if (ms > MAX_RETENTION_MS) throw new FormError(`${label} is too long (at most ${formatDuration(MAX_RETENTION_MS)}).`);
  return value;
}

export function registerSettings(router: UiRouter, deps: AccountDeps): void {
  router.get('settings', (r) => {
    const acc = deps.dynamic().Accounts[r.session.account!];
    const addresses = Object.keys(acc?.Destinations ?? {}).filter((a) => !a.startsWith('@'));
    const fromId = new Set(acc?.FromIDLoginAddresses ?? []);
    return {
      title: 'Settings',
      body: postForm(
        r,
        'settings',
        html`<fieldset><legend>FromID login addresses</legend>
<p class="muted small">Messages submitted after logging in with one of these addresses get a unique MAIL FROM (the address with a separator and an ID), so bounces (DSNs) can be matched to the message even when the remote server changes them.</p>
${addresses.map((a) => checkbox(a, 'fromid', fromId.has(a), a))}</fieldset>
<fieldset><legend>Retention</legend>
<p class="muted small">Durations such as "72h", "30m" or "1h30m" (no days: "720h" is 30 days); "0s" keeps nothing.</p>
${input('Keep delivered/failed outgoing messages for (needed to match later DSNs)', 'keepmessages', { value: formatDuration(acc?.KeepRetiredMessagePeriod ?? 0), required: true })}
${input('Keep finished webhooks for', 'keepwebhooks', { value: formatDuration(acc?.KeepRetiredWebhookPeriod ?? 0), required: true })}</fieldset>`,
        { submit: 'Save settings', label: 'settings' },
      ),
    };
  });

  router.post('settings', async (r) => {
    const account = r.session.account!;
    const acc = deps.dynamic().Accounts[account];
    if (!acc) throw new FormError('This account no longer exists.');
    const fromId = [...new Set(r.form.all('fromid').map((a) => a.trim()).filter(Boolean))];
    for (const a of fromId) {
      if (a.startsWith('@') || !Object.hasOwn(acc.Destinations, a)) throw new FormError(`${a} is not an address of this account.`);
    }
    const fields: AccountFields = {
      FromIDLoginAddresses: fromId.length ? fromId : undefined,
      KeepRetiredMessagePeriod: retention(r.form.text('keepmessages'), 'Keep messages'),
      KeepRetiredWebhookPeriod: retention(r.form.text('keepwebhooks'), 'Keep webhooks'),
    };
    await editConfig(account, () => deps.setAccountFields(account, fields));
    return { redirect: 'settings', ok: 'Settings saved.' };
  });
}
