/**
 * Running a domains.conf edit from an account page: input the config refuses (ConfigError from
 * config/write.ts, WebhookSettingsError) becomes a FormError with a short message naming the
 * field, without the file name and the account's key path.
 */
import { ConfigError } from '../../config/errors.js';
import { WebhookSettingsError } from '../../config/webhook-config.js';
import { FormError, type Page, type UiHandler, type UiRequest } from '../ui.js';
import { html } from '../html.js';

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

/**
 * A POST handler whose path has no page of its own (e.g. `suppressions/add`): input it refuses
 * shows the area's page (`page`) again with the message above it and status 400, instead of a
 * bare error page.
 */
export function orPage(page: (r: UiRequest) => Page | Promise<Page>, h: UiHandler): UiHandler {
  return async (r) => {
    try {
      return await h(r);
    } catch (e) {
      if (!(e instanceof FormError)) throw e;
      const p = await page(r);
      return { ...p, status: 400, body: html`<p class="flash error" role="alert">${e.message}</p>${p.body}` };
    }
  };
}
