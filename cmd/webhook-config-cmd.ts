/**
 * `moxts config webhook ...`: set or remove an account's OutgoingWebhook / IncomingWebhook and its
 * KeepRetiredWebhookPeriod in domains.conf (mox edits these in its account web UI only). Edits go
 * through config/webhook-config.ts (the account pages use the same function) and config/write.ts
 * (validated, atomic); a running server is told to reload.
 */
import type { Command } from 'commander';
import { loadStatic, dynamicPathFor } from '../config/load.js';
import { setAccountFields, type AccountFields, type DomainsFile } from '../config/write.js';
import { setAccountWebhook, WebhookSettingsError, type WebhookKind } from '../config/webhook-config.js';
import { globalOptions, UserError } from './context.js';
import { withConfigErrors } from './serve-cmd.js';
import { ctlCall, ctlPath, CtlUnavailableError } from './ctl.js';

async function edit(cmd: Command, write: (f: DomainsFile) => Promise<unknown>): Promise<string> {
  const g = globalOptions(cmd);
  const stat = await withConfigErrors(() => loadStatic(g.config));
  await withConfigErrors(async () => {
    try {
      await write({ path: dynamicPathFor(g.config), static: stat });
    } catch (e) {
      if (e instanceof WebhookSettingsError) throw new UserError(e.message);
      throw e;
    }
  });
  try {
    await ctlCall(ctlPath(stat.DataDir), 'reload', {});
    return ' (server reloaded)';
  } catch (e) {
    if (e instanceof CtlUnavailableError) return '';
    throw new UserError(`the running server refused: ${(e as Error).message}`);
  }
}

export function registerWebhookConfig(program: Command): void {
  const config = program.commands.find((c) => c.name() === 'config');
  if (!config) throw new Error('config command not registered');
  const wh = config.command('webhook').description("set an account's webhooks in domains.conf");
  wh.command('outgoing')
    .argument('<account>')
    .argument('<url>', 'http or https URL')
    .option('--authorization <value>', 'sent verbatim as the Authorization header, e.g. "Bearer …"')
    .option('--events <list>', 'comma-separated events to send (default all): delivered, suppressed, delayed, failed, relayed, expanded, canceled, unrecognized, complained')
    .description('set the webhook for delivery events of outgoing messages')
    .action(async (account: string, url: string, o: { authorization?: string; events?: string }, cmd: Command) => {
      const events = o.events ? o.events.split(',').map((e) => e.trim()).filter(Boolean) : undefined;
      const r = await edit(cmd, (f) => setAccountWebhook(f, account, 'outgoing', { url, authorization: o.authorization, events }));
      process.stdout.write(`outgoing webhook of ${account} set${r}\n`);
    });
  wh.command('incoming')
    .argument('<account>')
    .argument('<url>', 'http or https URL')
    .option('--authorization <value>', 'sent verbatim as the Authorization header')
    .description('set the webhook for each message delivered over SMTP')
    .action(async (account: string, url: string, o: { authorization?: string }, cmd: Command) => {
      const r = await edit(cmd, (f) => setAccountWebhook(f, account, 'incoming', { url, authorization: o.authorization }));
      process.stdout.write(`incoming webhook of ${account} set${r}\n`);
    });
  wh.command('remove')
    .argument('<account>')
    .argument('<which>', 'outgoing or incoming')
    .description('remove a webhook (queued webhooks are still delivered)')
    .action(async (account: string, which: string, _o, cmd: Command) => {
      if (which !== 'outgoing' && which !== 'incoming') throw new UserError('which must be outgoing or incoming');
      const r = await edit(cmd, (f) => setAccountWebhook(f, account, which as WebhookKind, undefined));
      process.stdout.write(`${which} webhook of ${account} removed${r}\n`);
    });
  wh.command('keep')
    .argument('<account>')
    .argument('<duration>', 'e.g. 72h; 0s keeps none')
    .description('set KeepRetiredWebhookPeriod: how long finished webhooks (and their attempts) are kept')
    .action(async (account: string, duration: string, _o, cmd: Command) => {
      const fields: AccountFields = { KeepRetiredWebhookPeriod: duration };
      const r = await edit(cmd, (f) => setAccountFields(f, account, fields));
      process.stdout.write(`retired webhooks of ${account} kept ${duration}${r}\n`);
    });
}
