/**
 * `moxts queue webhook ...`: mox's webhook queue commands (list, schedule, cancel, print,
 * retired list/print) plus replay, test and secret. Through the running server's ctl socket, or
 * directly on queue.db when no server runs.
 */
import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { QueueStore } from '../queue/store.js';
import { WebhookStore } from '../webhook/store.js';
import { nullLogger } from '../log/logger.js';
import { UserError, globalOptions } from './context.js';
import { withConfigErrors } from './serve-cmd.js';
import { ctlCall, ctlPath, CtlUnavailableError } from './ctl.js';
import { webhookOp, type HookFilterArgs } from './webhook-ops.js';
import { moxtsVersion } from './version-cmd.js';

async function run(cmd: Command, op: string, args: Record<string, unknown> = {}): Promise<unknown> {
  const g = globalOptions(cmd);
  const loaded = await withConfigErrors(() => loadConfig(g.config));
  try {
    return await ctlCall(ctlPath(loaded.static.DataDir), 'webhook', { op, ...args });
  } catch (e) {
    if (!(e instanceof CtlUnavailableError)) throw new UserError((e as Error).message);
  }
  // No server: open queue.db ourselves (QueueStore applies the migrations).
  const q = await QueueStore.open({ dataDir: loaded.static.DataDir, log: nullLogger() });
  await q.close();
  const store = WebhookStore.open({ dataDir: loaded.static.DataDir, keepRetiredFor: (a) => loaded.dynamic.Accounts[a]?.KeepRetiredWebhookPeriod });
  try {
    return await webhookOp({ store }, op, args, { config: () => loaded.dynamic, userAgent: `moxts/${moxtsVersion()} (webhook)` });
  } catch (e) {
    throw new UserError((e as Error).message);
  } finally {
    await store.close();
  }
}

type FilterFlags = Omit<HookFilterArgs, 'ids' | 'success'> & { ids?: string; all?: boolean; success?: string };

function withFilter(c: Command, opts: { all?: boolean; retired?: boolean } = {}): Command {
  c.option('--ids <ids>', 'comma-separated webhook ids')
    .option('--account <account>')
    .option('--submitted <when>', 'e.g. "<1h" (less than an hour ago) or ">1d"')
    .option('--event <event>', 'incoming, or an outgoing event: delivered, suppressed, delayed, failed, relayed, expanded, canceled, unrecognized, complained');
  if (opts.retired) c.option('--lastactivity <when>', 'e.g. "<1h"').option('--success <yes|no>');
  else c.option('--nextattempt <when>', 'e.g. "<now", "<1h", ">2h"');
  if (opts.all) c.option('--all', 'apply to every queued webhook (when no filter is given)');
  return c;
}

function filterArgs(o: FilterFlags): { filter: HookFilterArgs; all?: boolean } {
  const { ids, all, success, ...rest } = o;
  const filter: HookFilterArgs = { ...rest, ids: ids ? ids.split(',').map((x) => Number(x.trim())) : undefined };
  if (success !== undefined) filter.success = success === 'yes';
  for (const k of ['json', 'n', 'sort', 'desc', 'now'] as const) delete (filter as Record<string, unknown>)[k];
  return { filter, all };
}

interface HookJson {
  id: number;
  account: string;
  url: string;
  isIncoming: boolean;
  outgoingEvent: string;
  queueMsgId: number;
  attempts: number;
  submitted: string;
  nextAttempt?: string;
  lastActivity?: string;
  success?: boolean;
  results: Array<{ code: number; error: string }>;
}

function line(h: HookJson): string {
  const last = h.results.at(-1);
  return [
    h.id,
    h.account,
    h.isIncoming ? 'incoming' : h.outgoingEvent,
    h.queueMsgId ? `queuemsg ${h.queueMsgId}` : '',
    h.url,
    `attempts ${h.attempts}`,
    h.nextAttempt ? `next ${h.nextAttempt}` : '',
    h.lastActivity ? `${h.success ? 'success' : 'failed'} ${h.lastActivity}` : '',
    last ? `last: ${last.code || ''} ${last.error}`.trim() : '',
  ]
    .filter((x) => x !== '')
    .join('  ');
}

function out(v: unknown, json: boolean | undefined, text: (v: never) => string): void {
  process.stdout.write(json ? JSON.stringify(v, null, 2) + '\n' : text(v as never));
}

export function registerQueueWebhook(program: Command): void {
  const queue = program.commands.find((c) => c.name() === 'queue');
  if (!queue) throw new Error('queue command not registered');
  const wh = queue.command('webhook').description('webhooks queued for delivery, retired webhooks, replay, test, signing secret');

  withFilter(wh.command('list').description('list queued webhooks'))
    .option('--sort <field>', 'nextattempt or submitted', 'nextattempt')
    .option('--desc', 'descending order')
    .option('--n <max>', 'at most this many', '100')
    .option('--json', 'print JSON')
    .action(async (o: FilterFlags & { sort: string; desc?: boolean; n: string; json?: boolean }, cmd: Command) => {
      const r = (await run(cmd, 'list', { ...filterArgs(o), sort: o.sort === 'submitted' ? 'submitted' : 'nextAttempt', asc: !o.desc, max: Number(o.n) })) as HookJson[];
      out(r, o.json, (v: HookJson[]) => (v.length ? v.map(line).join('\n') + '\n' : 'no queued webhooks (for this filter)\n'));
    });

  withFilter(wh.command('schedule').argument('<duration>', 'e.g. 1h, 30m, 0s').description('move the next attempt by a duration (or to now + duration with --now)'), { all: true })
    .option('--now', 'relative to now instead of to the current next attempt')
    .action(async (duration: string, o: FilterFlags & { now?: boolean }, cmd: Command) => {
      const n = await run(cmd, 'schedule', { ...filterArgs(o), duration, now: o.now });
      process.stdout.write(`${String(n)} webhook(s) rescheduled\n`);
    });

  withFilter(wh.command('cancel').description('cancel matching webhooks (retired as failed, "canceled by admin")'), { all: true }).action(async (o: FilterFlags, cmd: Command) => {
    const r = (await run(cmd, 'cancel', filterArgs(o))) as number[];
    process.stdout.write(`${r.length} webhook(s) canceled\n`);
  });

  wh.command('print')
    .argument('<id>')
    .description('print a queued webhook with its attempts as JSON')
    .action(async (id: string, _o, cmd: Command) => {
      process.stdout.write(JSON.stringify(await run(cmd, 'print', { id: Number(id) }), null, 2) + '\n');
    });

  const retired = wh.command('retired').description('webhooks that left the queue, kept for KeepRetiredWebhookPeriod');
  withFilter(retired.command('list'), { retired: true })
    .option('--n <max>', 'at most this many', '100')
    .option('--json', 'print JSON')
    .action(async (o: FilterFlags & { n: string; json?: boolean }, cmd: Command) => {
      const r = (await run(cmd, 'retired-list', { ...filterArgs(o), max: Number(o.n) })) as HookJson[];
      out(r, o.json, (v: HookJson[]) => (v.length ? v.map(line).join('\n') + '\n' : 'no retired webhooks\n'));
    });
  retired
    .command('print')
    .argument('<id>')
    .action(async (id: string, _o, cmd: Command) => {
      process.stdout.write(JSON.stringify(await run(cmd, 'retired-print', { id: Number(id) }), null, 2) + '\n');
    });

  wh.command('replay')
    .argument('<id>', 'a retired webhook')
    .description('send a retired webhook again as a new webhook: same payload and webhook-id, to the URL configured now')
    .action(async (id: string, _o, cmd: Command) => {
      const n = await run(cmd, 'replay', { id: Number(id) });
      process.stdout.write(`retired webhook ${id} queued again as webhook ${String(n)}\n`);
    });

  wh.command('test')
    .argument('<account>')
    .argument('[kind]', 'outgoing or incoming', 'outgoing')
    .option('--url <url>', 'send to this URL instead of the configured one')
    .description("POST an example payload, signed, to the account's webhook URL and print the result")
    .action(async (account: string, kind: string, o: { url?: string }, cmd: Command) => {
      const r = (await run(cmd, 'test', { account, kind, url: o.url })) as { url: string; payload: string; code: number; response: string; error: string; durationMs: number };
      process.stdout.write(`POST ${r.url}\nrequest body: ${r.payload}\nstatus: ${r.code || '(no response)'}\nresponse: ${r.response}\nerror: ${r.error || '(none)'}\nduration: ${Math.round(r.durationMs)} ms\n`);
      if (r.code !== 200) process.exitCode = 1;
    });

  wh.command('secret')
    .argument('<account>')
    .option('--rotate', 'generate a new secret; the old one is still sent as a second signature for --overlap')
    .option('--overlap <duration>', 'how long the old secret keeps signing after --rotate', '24h')
    .description("print the account's webhook signing secret (Standard Webhooks whsec_…), created on first use")
    .action(async (account: string, o: { rotate?: boolean; overlap: string }, cmd: Command) => {
      const r = (await run(cmd, 'secret', { account, rotate: o.rotate, overlap: o.overlap })) as { current: string; previous?: string };
      process.stdout.write(`${r.current}\n`);
      if (r.previous) process.stdout.write(`previous (still signing): ${r.previous}\n`);
    });
}
