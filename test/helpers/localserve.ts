/**
 * Helpers for localserve scenario tests.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';

/** Add webhook URLs (<url>/outgoing, <url>/incoming) for account mox to a localserve domains.conf, as a developer would. */
export function addWebhooks(lsDir: string, url: string): void {
  const path = join(lsDir, 'domains.conf');
  const conf = parse(readFileSync(path, 'utf8')) as { Accounts: Record<string, Record<string, unknown>> };
  conf.Accounts.mox!.OutgoingWebhook = { URL: `${url}/outgoing` };
  conf.Accounts.mox!.IncomingWebhook = { URL: `${url}/incoming` };
  writeFileSync(path, stringify(conf));
}
