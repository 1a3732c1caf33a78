/** What the account pages get from the server (cmd/server.ts): the same stores and operations the CLI uses. */
import type { DynamicConfig } from '../../config/dynamic-schema.js';
import type { StaticConfig } from '../../config/static-schema.js';
import type { Store } from '../../store/index.js';
import type { QueueStore } from '../../queue/store.js';
import type { WebhookService } from '../../webhook/service.js';
import type { AuthDb } from '../../auth/authdb.js';
import type { LoginGuard } from '../../auth/login.js';
import type { Logger } from '../../log/logger.js';
import type { CtlCall } from '../admin/deps.js';
import type { SessionStore } from '../session.js';
import type { AccountFields } from '../../config/write.js';
import type { WebhookKind, WebhookSettings } from '../../config/webhook-config.js';

export interface AccountDeps {
  /** Path of mox.conf (config edits go through the CLI's functions, which take it). */
  configPath: string;
  static: StaticConfig;
  dynamic: () => DynamicConfig;
  store: Store;
  queue: QueueStore;
  webhooks: WebhookService;
  authDb: AuthDb;
  loginGuard: LoginGuard;
  /** The running server's control commands, as the CLI sends them (see admin/deps.ts). */
  ctl: CtlCall;
  /**
   * Edits of this account in domains.conf, the same functions as the CLI's (config/write.ts
   * setAccountFields, config/webhook-config.ts setAccountWebhook), followed by a reload so the
   * next page shows the new values. They throw ConfigError / WebhookSettingsError for refused input.
   */
  setAccountFields: (account: string, fields: AccountFields) => Promise<void>;
  setAccountWebhook: (account: string, kind: WebhookKind, settings: WebhookSettings | undefined) => Promise<void>;
  /**
   * The account sessions, one store for every listener serving the account pages (a password
   * change ends the account's other sessions in all of them); the app makes its own when absent.
   */
  sessions?: SessionStore;
  clock: () => Date;
  log: Logger;
}
