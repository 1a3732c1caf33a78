/** What the admin pages get from the server (cmd/server.ts): the same stores and operations the CLI uses. */
import type { StaticConfig } from '../../config/static-schema.js';
import type { DynamicConfig } from '../../config/dynamic-schema.js';
import type { Store } from '../../store/index.js';
import type { QueueStore } from '../../queue/store.js';
import type { WebhookService } from '../../webhook/service.js';
import type { AuthDb } from '../../auth/authdb.js';
import type { LoginGuard } from '../../auth/login.js';
import type { PasswordRecord } from '../../auth/password.js';
import type { Resolver } from '../../dns/resolver.js';
import type { Logger } from '../../log/logger.js';

/**
 * A control command of the running server, exactly as `moxts <verb>` sends it over the ctl socket
 * (cmd/ctl.ts handlers: "queue" with op list/hold/..., "webhook", "reload", "setaccountpassword",
 * "accountremoved"): the web admin calls the same handlers in-process.
 */
export type CtlCall = (cmd: string, args?: Record<string, unknown>) => Promise<unknown>;

export interface AdminDeps {
  /** Path of mox.conf (config edits go through the CLI's functions, which take it). */
  configPath: string;
  static: StaticConfig;
  dynamic: () => DynamicConfig;
  store: Store;
  queue: QueueStore;
  webhooks: WebhookService;
  authDb: AuthDb;
  loginGuard: LoginGuard;
  resolver: Resolver;
  ctl: CtlCall;
  /** The admin password hash from AdminPasswordFile (undefined when none is set). */
  adminPasswordHash: () => Promise<PasswordRecord | undefined>;
  clock: () => Date;
  log: Logger;
}
