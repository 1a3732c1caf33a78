/**
 * The running server: loads the config, opens the store, starts the control socket and the
 * domains.conf watcher, and (as the protocol issues land) the listeners. `serve` and `localserve`
 * both start it; tests start it in-process with their own logger. Signal handling lives in the
 * commands, not here, so several servers can run in one test process.
 */
import { join } from 'node:path';
import { promises as fsp } from 'node:fs';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { watchDynamic, type DynamicWatcher } from '../config/reload.js';
import type { DynamicConfig } from '../config/dynamic-schema.js';
import { Store } from '../store/index.js';
import { hashPassword } from '../auth/password.js';
import type { Logger } from '../log/logger.js';
import { startCtl, type CtlServer } from './ctl.js';

export const CTL_SOCKET_NAME = 'ctl';

export function ctlPath(dataDir: string): string {
  return join(dataDir, CTL_SOCKET_NAME);
}

export interface Server {
  readonly loaded: LoadedConfig;
  readonly store: Store;
  readonly ctlPath: string;
  /** Names of the network services running (smtp, submission, imap, http, ...), for the banner. */
  readonly services: readonly string[];
  /** The current dynamic config (domains.conf), replaced on successful reloads. */
  dynamic(): DynamicConfig;
  /** Resolves when the server has stopped, by stop() or a ctl "stop". */
  readonly stopped: Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  configPath: string;
  log: Logger;
  clock?: () => Date;
}

export async function startServer(opts: StartOptions): Promise<Server> {
  const { log } = opts;
  const loaded = await loadConfig(opts.configPath);
  const dataDir = loaded.static.DataDir;
  await fsp.mkdir(dataDir, { recursive: true, mode: 0o750 });

  let current = loaded.dynamic;
  const quota = (account: string): number | undefined => {
    const a = current.Accounts[account];
    const q = a?.QuotaMessageSize ?? loaded.static.QuotaMessageSize;
    return q > 0 ? q : undefined;
  };
  const store = await Store.open({ dataDir, log: log.child({ proto: 'store' }), clock: opts.clock, quotaMessageSize: quota });

  const cleanups: Array<() => Promise<void> | void> = [() => store.close()];
  let stopping: Promise<void> | undefined;
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      log.info('stopping');
      for (const c of cleanups.reverse()) {
        try {
          await c();
        } catch (err) {
          log.error({ err }, 'during shutdown');
        }
      }
      log.info('stopped');
      resolveStopped();
    })();
    return stopping;
  };

  try {
    const watcher: DynamicWatcher = await watchDynamic({
      path: loaded.dynamicPath,
      static: loaded.static,
      initial: loaded.dynamic,
      log: log.child({ proto: 'config' }),
      onChange: (cfg) => {
        current = cfg;
        log.info('domains.conf reloaded');
      },
    });
    cleanups.push(() => watcher.close());

    const ctl: CtlServer = await startCtl({
      path: ctlPath(dataDir),
      log: log.child({ proto: 'ctl' }),
      handlers: {
        ping: () => 'pong',
        stop: () => {
          // Reply first, then stop.
          setImmediate(() => void stop());
          return 'stopping';
        },
        reload: async () => {
          await watcher.reload();
          return 'reloaded';
        },
        setaccountpassword: async (args) => {
          const account = String(args.account ?? '');
          const password = String(args.password ?? '');
          if (!current.Accounts[account]) throw new Error(`no such account ${JSON.stringify(account)}`);
          if (!password) throw new Error('empty password');
          store.account(account).setPassword(await hashPassword(password));
          return null;
        },
        accountremoved: async (args) => {
          // Called by "config account rm" after removing the account from domains.conf.
          const account = String(args.account ?? '');
          await store.removeAccount(account);
          return null;
        },
      },
    });
    cleanups.push(() => ctl.close());
  } catch (err) {
    await stop();
    throw err;
  }

  const services: string[] = [];
  return { loaded, store, ctlPath: ctlPath(dataDir), services, dynamic: () => current, stopped, stop };
}
