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
  clock: () => Date;
  log: Logger;
}
