/**
 * Running a domains.conf edit from an account page: input the config refuses (ConfigError from
 * config/write.ts, WebhookSettingsError) becomes a FormError with a short message naming the
 * field, without the file name and the account's key path.
 */
import { ConfigError } from '../../config/errors.js';
import { WebhookSettingsError } from '../../config/webhook-config.js';
import { FormError } from '../ui.js';

export function configErrorText(e: ConfigError, account: string): string {
  const prefix = `Accounts.${account}.`;
  return e.issues.map((i) => `${i.path.startsWith(prefix) ? i.path.slice(prefix.length) : i.path}: ${i.message}`).join('; ');
}

export async function editConfig(account: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof WebhookSettingsError) throw new FormError(e.message);
    if (e instanceof ConfigError) throw new FormError(configErrorText(e, account));
    throw e;
  }
}
