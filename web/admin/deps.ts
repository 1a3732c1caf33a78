/** What the admin pages get from the server (cmd/server.ts): the same stores and operations the CLI uses. */
import type { SessionStore } from '../session.js';
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
import type { ExpectedRecord } from '../../dns/records.js';

/**
 * A control command of the running server, exactly as `moxts <verb>` sends it over the ctl socket
 * (cmd/ctl.ts handlers: "queue" with op list/hold/..., "webhook", "reload", "setaccountpassword",
 * "accountremoved"): the web admin calls the same handlers in-process.
 */
export type CtlCall = (cmd: string, args?: Record<string, unknown>) => Promise<unknown>;

/** Account settings the admin pages edit (domains.conf names; undefined removes the key: default). */
export interface AccountLimits {
  MaxOutgoingMessagesPerDay?: number;
  MaxFirstTimeRecipientsPerDay?: number;
  QuotaMessageSize?: number;
}

/**
 * The config edits of the CLI (`moxts config ...`, cmd/config-ops.ts), each followed by the
 * server's reload of domains.conf (ctl "reload"), so the next page shows the new state. A refused
 * edit (bad input, a conflict, a config that would not validate) throws web/ui.ts FormError with
 * the reason.
 */
export interface AdminConfigOps {
  /** `config domain add DOMAIN ACCOUNT [LOCALPART]`: new DKIM keys (ed25519, RSA), the account created if missing. */
  addDomain(domain: string, account: string, localpart?: string): Promise<void>;
  /** `config domain rm`: refused while accounts or addresses use the domain. */
  removeDomain(domain: string): Promise<void>;
  /** `config dnsrecords DOMAIN`: the zone-file text. */
  dnsRecords(domain: string): Promise<string>;
  /** The records of dnsRecords that are checked live (dns/check.ts). */
  expectedRecords(domain: string): Promise<ExpectedRecord[]>;
  /** `config dkim add`: a new key file and selector; `sign` adds it to the domain's Sign list. */
  addDkimSelector(domain: string, selector: string, algorithm: 'ed25519' | 'rsa', sign: boolean): Promise<void>;
  /** `config dkim rm`: the selector leaves the config (its key file stays). */
  removeDkimSelector(domain: string, selector: string): Promise<void>;
  /** `config account add NAME ADDRESS`. */
  addAccount(name: string, address: string): Promise<void>;
  /** `config account rm NAME`: from domains.conf, then its messages (ctl "accountremoved"). */
  removeAccount(name: string): Promise<void>;
  /** `config address add ADDRESS ACCOUNT`. */
  addAddress(account: string, address: string): Promise<void>;
  /** `config address rm ADDRESS`. */
  removeAddress(address: string): Promise<void>;
  /** `config account limits NAME ...`. */
  setAccountLimits(account: string, limits: AccountLimits): Promise<void>;
}

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
  /** Config edits, through the same functions as the CLI. */
  config: AdminConfigOps;
  /** The admin password hash from AdminPasswordFile (undefined when none is set). */
  adminPasswordHash: () => Promise<PasswordRecord | undefined>;
  clock: () => Date;
  log: Logger;
  /** The admin's login sessions (the server passes a persisted store); the app makes its own when absent. */
  sessions?: SessionStore;
}
