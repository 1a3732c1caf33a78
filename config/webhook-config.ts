/**
 * An account's webhook settings in domains.conf (mox §2.1): OutgoingWebhook {URL, Authorization,
 * Events} and IncomingWebhook {URL, Authorization}. One function for `moxts config webhook ...`
 * and the account pages, so both refuse the same input with the same messages. The write goes
 * through config/write.ts (whole config validated, atomic replace).
 */
import type { DynamicConfig } from './dynamic-schema.js';
import { OUTGOING_WEBHOOK_EVENTS, WebhookURLSchema } from './dynamic-schema.js';
import { setAccountFields, type AccountFields, type DomainsFile } from './write.js';

export type WebhookKind = 'outgoing' | 'incoming';

export interface WebhookSettings {
  /** http or https URL. */
  url: string;
  /** Sent verbatim as the Authorization header; empty or absent for none. */
  authorization?: string;
  /** Outgoing only: events to send; empty or absent for all. */
  events?: readonly string[];
}

/** Input refused before the file is touched; the message is meant for the user. */
export class WebhookSettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookSettingsError';
  }
}

/** Check the settings and turn them into the account fields to write (undefined removes the webhook). */
export function webhookFields(kind: WebhookKind, s: WebhookSettings | undefined): AccountFields {
  const key = kind === 'outgoing' ? 'OutgoingWebhook' : 'IncomingWebhook';
  if (!s) return { [key]: undefined };
  const url = s.url.trim();
  const u = WebhookURLSchema.safeParse(url);
  if (!url) throw new WebhookSettingsError('URL is required');
  if (!u.success) throw new WebhookSettingsError(`URL ${u.error.issues[0]?.message ?? 'is invalid'}`);
  const authorization = s.authorization?.trim() ?? '';
  if (/[\r\n]/.test(authorization)) throw new WebhookSettingsError('Authorization must be one line');
  const events = [...new Set((s.events ?? []).map((e) => e.trim()).filter(Boolean))];
  if (kind === 'incoming' && events.length) throw new WebhookSettingsError('the incoming webhook has no events');
  const bad = events.filter((e) => !(OUTGOING_WEBHOOK_EVENTS as readonly string[]).includes(e));
  if (bad.length) throw new WebhookSettingsError(`unknown event ${bad.map((e) => JSON.stringify(e)).join(', ')}; known: ${OUTGOING_WEBHOOK_EVENTS.join(', ')}`);
  return {
    [key]: {
      URL: url,
      ...(authorization ? { Authorization: authorization } : {}),
      ...(events.length ? { Events: events as (typeof OUTGOING_WEBHOOK_EVENTS)[number][] } : {}),
    },
  };
}

/** Set (or with undefined, remove) an account's outgoing or incoming webhook in domains.conf. */
export function setAccountWebhook(f: DomainsFile, account: string, kind: WebhookKind, s: WebhookSettings | undefined): Promise<DynamicConfig> {
  return setAccountFields(f, account, webhookFields(kind, s));
}
