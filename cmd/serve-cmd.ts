/** `moxts serve` and `moxts stop`. */
import type { Command } from 'commander';
import { loadStatic } from '../config/load.js';
import { ConfigError } from '../config/errors.js';
import { createLogger } from '../log/logger.js';
import { globalOptions, parseLogLevel, UserError } from './context.js';
import type { Server } from './server.js';
import { ctlCall, ctlPath, CtlUnavailableError } from './ctl.js';

/**
 * Stop on SIGINT/SIGTERM, reload domains.conf on SIGHUP; resolves when the server stopped.
 * `ready` runs once the handlers are installed, so whoever sees its announcement can signal us.
 */
export async function runUntilStopped(server: Server, ready: () => void = () => {}): Promise<void> {
  const onStop = () => void server.stop();
  const onHup = () => void ctlCall(server.ctlPath, 'reload').catch(() => {});
  process.on('SIGINT', onStop);
  process.on('SIGTERM', onStop);
  process.on('SIGHUP', onHup);
  try {
    ready();
    await server.stopped;
  } finally {
    process.off('SIGINT', onStop);
    process.off('SIGTERM', onStop);
    process.off('SIGHUP', onHup);
  }
}

/** Load the config or turn its error into a one-line-per-problem user error. */
export async function withConfigErrors<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof ConfigError) throw new UserError(`invalid config:\n${e.message}`, { cause: e });
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError(`${(e as Error).message} (run "moxts quickstart" or pass --config)`);
    throw e;
  }
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('start the mail server with the config from --config (mox.conf, and domains.conf beside it)')
    .action(async (_opts, cmd: Command) => {
      const g = globalOptions(cmd);
      const stat = await withConfigErrors(() => loadStatic(g.config));
      const log = createLogger({ level: parseLogLevel(g.loglevel) ?? stat.LogLevel });
      const { startServer } = await import('./server.js');
      const server = await withConfigErrors(() => startServer({ configPath: g.config, log }));
      await runUntilStopped(server, () => log.info({ config: g.config, dataDir: server.loaded.static.DataDir }, 'moxts serving'));
    });

  program
    .command('stop')
    .description('ask the running server to shut down')
    .action(async (_opts, cmd: Command) => {
      const g = globalOptions(cmd);
      const stat = await withConfigErrors(() => loadStatic(g.config));
      try {
        await ctlCall(ctlPath(stat.DataDir), 'stop');
      } catch (e) {
        if (e instanceof CtlUnavailableError) throw new UserError('no server is running');
        throw e;
      }
      process.stdout.write('server is stopping\n');
    });
}
