/**
 * `moxts queue ...`: list and change the outbound queue, hold rules, retired messages and the
 * suppression list (mox's verbs). Through the running server's ctl socket, or directly on
 * queue.db when no server runs.
 */
import { Option, type Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { QueueStore } from '../queue/store.js';
import type { Store } from '../store/index.js';
import { nullLogger } from '../log/logger.js';
import { globalOptions, UserError } from './context.js';
import { withConfigErrors } from './serve-cmd.js';
import { ctlCall, ctlPath, CtlUnavailableError } from './ctl.js';
import { queueOp, type FilterArgs } from './queue-ops.js';

async function run(cmd: Command, op: string, args: Record<string, unknown> = {}): Promise<unknown> {
  const g = globalOptions(cmd);
  const loaded = await withConfigErrors(() => loadConfig(g.config));
  try {
    return await ctlCall(ctlPath(loaded.static.DataDir), 'queue', { op, ...args });
  } catch (e) {
    if (!(e instanceof CtlUnavailableError)) throw new UserError((e as Error).message);
  }
  const q = await QueueStore.open({
    dataDir: loaded.static.DataDir,
    log: nullLogger(),
    keepRetiredFor: (a) => loaded.dynamic.Accounts[a]?.KeepRetiredMessagePeriod ?? 0,
  });
  const { Store: StoreImpl } = await import('../store/index.js');
  const { parseBuffer } = await import('../message/part.js');
  let store: Store | undefined;
  try {
    return await queueOp(q, op, args, {
      hostname: loaded.static.Hostname,
      deliverToAccount: async (account, message) => {
        store ??= await StoreImpl.open({ dataDir: loaded.static.DataDir, log: nullLogger() });
        await store.account(account).deliver({ mailbox: 'Inbox', data: message, parsed: parseBuffer(message), rcptTo: account });
      },
    });
  } catch (e) {
    throw new UserError((e as Error).message);
  } finally {
    await q.close();
    await store?.close();
  }
}

/** The filter as commander parses it: ids as one comma-separated string, plus --all. */
type FilterFlags = Omit<FilterArgs, 'ids'> & { ids?: string; all?: boolean };

function withFilter(c: Command, all = false): Command {
  c.option('--ids <ids>', 'comma-separated queue ids')
    .option('--account <account>', 'sending account')
    .option('--from <text>', 'substring of the sender address')
    .option('--to <text>', 'substring of the recipient address; "@example.com" matches a domain')
    .addOption(new Option('--hold', 'only held messages'))
    .addOption(new Option('--no-hold', 'only messages not on hold'))
    .option('--submitted <when>', 'e.g. "<1h" (less than an hour ago) or ">1d"')
    .option('--nextattempt <when>', 'e.g. "<now", "<1h", ">2h"')
    .option('--transport <name>', 'transport override; "" for messages without one');
  if (all) c.option('--all', 'apply to every queued message (when no filter is given)');
  return c;
}

function filterArgs(o: FilterFlags): { filter: FilterArgs; all?: boolean } {
  const { ids, all, account, from, to, hold, submitted, nextattempt, transport } = o;
  return { filter: { ids: ids ? ids.split(',').map((x) => Number(x.trim())) : undefined, account, from, to, hold, submitted, nextattempt, transport }, all };
}

function out(v: unknown, json: boolean | undefined, text: (v: never) => string): void {
  process.stdout.write(json ? JSON.stringify(v, null, 2) + '\n' : text(v as never));
}

interface MsgJson {
  id: number;
  senderAccount: string;
  senderLocalpart: string;
  senderDomain: string;
  recipientLocalpart: string;
  recipientDomain: string;
  attempts: number;
  maxAttempts: number;
  nextAttempt: string;
  hold: boolean;
  transport: string | null;
  subject: string;
  results: Array<{ error: string; code?: number }>;
}

function msgLine(m: MsgJson): string {
  const last = m.results.at(-1);
  return [
    m.id,
    m.senderAccount,
    `${m.senderLocalpart}@${m.senderDomain} -> ${m.recipientLocalpart}@${m.recipientDomain}`,
    `attempts ${m.attempts}/${m.maxAttempts}`,
    `next ${m.nextAttempt}`,
    m.hold ? 'HOLD' : '',
    m.transport ? `transport ${m.transport}` : '',
    JSON.stringify(m.subject),
    last ? `last: ${last.code ?? ''} ${last.error}`.trim() : '',
  ]
    .filter((x) => x !== '')
    .join('  ');
}

export function registerQueue(program: Command): void {
  const queue = program.command('queue').description('outbound queue: list, hold, schedule, drop; hold rules; retired messages; suppression list');

  withFilter(queue.command('list').description('list queued messages (keyset pagination with --after-id/--after-value)'))
    .option('--sort <field>', 'nextattempt or queued', 'nextattempt')
    .option('--desc', 'descending order')
    .option('--n <max>', 'at most this many', '100')
    .option('--after-id <id>', 'continue after this id (with --after-value)')
    .option('--after-value <time>', 'the sort value (RFC 3339) of that row')
    .option('--json', 'print JSON')
    .action(async (o: FilterFlags & { sort: string; desc?: boolean; n: string; afterId?: string; afterValue?: string; json?: boolean }, cmd: Command) => {
      const r = (await run(cmd, 'list', {
        ...filterArgs(o),
        sort: o.sort === 'queued' ? 'queued' : 'nextAttempt',
        asc: !o.desc,
        max: Number(o.n),
        afterId: o.afterId,
        afterValue: o.afterValue,
      })) as MsgJson[];
      out(r, o.json, (v: MsgJson[]) => v.map(msgLine).join('\n') + (v.length ? '\n' : 'queue is empty (for this filter)\n'));
    });

  for (const [name, desc] of [
    ['hold', 'put matching messages on hold'],
    ['unhold', 'release matching messages from hold'],
    ['drop', 'remove matching messages without a DSN (event "canceled")'],
    ['fail', 'fail matching messages: the sender gets a failure DSN (event "failed")'],
  ] as const) {
    withFilter(queue.command(name).description(desc), true).action(async (o: FilterFlags, cmd: Command) => {
      const r = await run(cmd, name, filterArgs(o));
      const verb = { drop: 'dropped', fail: 'failed', hold: 'held', unhold: 'released' }[name];
      process.stdout.write(`${Array.isArray(r) ? r.length : String(r)} message(s) ${verb}\n`);
    });
  }

  withFilter(queue.command('schedule').argument('<duration>', 'e.g. 1h, 30m, 0s').description('move the next attempt by a duration (or to now + duration with --now)'), true)
    .option('--now', 'relative to now instead of to the current next attempt')
    .action(async (duration: string, o: FilterFlags & { now?: boolean }, cmd: Command) => {
      const n = await run(cmd, 'schedule', { ...filterArgs(o), duration, now: o.now });
      process.stdout.write(`${String(n)} message(s) rescheduled\n`);
    });

  withFilter(queue.command('transport').argument('<transport>', 'a transport from mox.conf, or "" for normal routing').description('set the transport of matching messages'), true).action(
    async (transport: string, o: FilterFlags, cmd: Command) => {
      const n = await run(cmd, 'transport', { ...filterArgs(o), transport });
      process.stdout.write(`${String(n)} message(s) changed\n`);
    },
  );

  withFilter(queue.command('requiretls').argument('<value>', 'yes, no or default').description('set RequireTLS of matching messages'), true).action(
    async (value: string, o: FilterFlags, cmd: Command) => {
      const n = await run(cmd, 'requiretls', { ...filterArgs(o), value });
      process.stdout.write(`${String(n)} message(s) changed\n`);
    },
  );

  queue
    .command('dump')
    .argument('<id>')
    .description('print a queued message as it will be sent')
    .action(async (id: string, _o, cmd: Command) => {
      process.stdout.write(Buffer.from((await run(cmd, 'dump', { id: Number(id) })) as string, 'latin1'));
    });

  const hr = queue.command('holdrules').description('hold rules: messages matching a rule are held when queued');
  hr.command('list')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const r = (await run(cmd, 'holdrules-list')) as Array<{ id: number; account: string; senderDomain: string; recipientDomain: string }>;
      out(r, o.json, (v: typeof r) =>
        v.length ? v.map((x) => `${x.id}  account ${x.account || '*'}  senderdomain ${x.senderDomain || '*'}  recipientdomain ${x.recipientDomain || '*'}`).join('\n') + '\n' : 'no hold rules\n',
      );
    });
  hr.command('add')
    .description('add a rule; every given field must match; no fields holds everything; matching queued messages are held too')
    .option('--account <account>')
    .option('--senderdom <domain>')
    .option('--recipientdom <domain>')
    .action(async (o: { account?: string; senderdom?: string; recipientdom?: string }, cmd: Command) => {
      const r = (await run(cmd, 'holdrules-add', { account: o.account, senderDomain: o.senderdom, recipientDomain: o.recipientdom })) as { rule: { id: number }; held: number };
      process.stdout.write(`hold rule ${r.rule.id} added; ${r.held} queued message(s) now held\n`);
    });
  hr.command('remove')
    .argument('<id>')
    .description('remove a rule (held messages stay held)')
    .action(async (id: string, _o, cmd: Command) => {
      await run(cmd, 'holdrules-remove', { id: Number(id) });
      process.stdout.write(`hold rule ${id} removed\n`);
    });

  const retired = queue.command('retired').description('messages that left the queue, kept for KeepRetiredMessagePeriod');
  retired
    .command('list')
    .option('--account <account>')
    .option('--to <text>')
    .option('--success <yes|no>')
    .option('--n <max>', 'at most this many', '100')
    .option('--after-id <id>', 'continue after this id (with --after-value; newest first)')
    .option('--after-value <time>', 'the lastActivity (RFC 3339) of that row')
    .option('--json', 'print JSON')
    .action(async (o: { account?: string; to?: string; success?: string; n: string; afterId?: string; afterValue?: string; json?: boolean }, cmd: Command) => {
      const r = (await run(cmd, 'retired-list', {
        account: o.account,
        to: o.to,
        success: o.success === undefined ? undefined : o.success === 'yes',
        max: Number(o.n),
        afterId: o.afterId,
        afterValue: o.afterValue,
      })) as Array<
        MsgJson & { outcome: string; lastActivity: string }
      >;
      out(r, o.json, (v: typeof r) => (v.length ? v.map((m) => `${msgLine(m)}  ${m.outcome} ${m.lastActivity}`).join('\n') + '\n' : 'no retired messages\n'));
    });
  retired
    .command('print')
    .argument('<id>')
    .action(async (id: string, _o, cmd: Command) => {
      process.stdout.write(JSON.stringify(await run(cmd, 'retired-print', { id: Number(id) }), null, 2) + '\n');
    });

  const sup = queue.command('suppress').description('per-account suppression lists (checked at delivery)');
  sup
    .command('list')
    .option('--account <account>')
    .option('--json', 'print JSON')
    .action(async (o: { account?: string; json?: boolean }, cmd: Command) => {
      const r = (await run(cmd, 'suppress-list', { account: o.account })) as Array<{ account: string; baseAddress: string; originalAddress: string; manual: boolean; reason: string; created: string }>;
      out(r, o.json, (v: typeof r) =>
        v.length ? v.map((s) => `${s.account}  ${s.baseAddress}  (${s.originalAddress})  ${s.manual ? 'manual' : 'automatic'}  ${s.created}  ${s.reason}`).join('\n') + '\n' : 'no suppressions\n',
      );
    });
  sup
    .command('add')
    .argument('<account>')
    .argument('<address>')
    .option('--reason <text>', 'why', 'added by admin')
    .action(async (account: string, address: string, o: { reason: string }, cmd: Command) => {
      const added = await run(cmd, 'suppress-add', { account, address, reason: o.reason });
      process.stdout.write(added ? `${address} suppressed for ${account}\n` : `${address} was already suppressed for ${account}\n`);
    });
  sup
    .command('remove')
    .argument('<account>')
    .argument('<address>')
    .action(async (account: string, address: string, _o, cmd: Command) => {
      const removed = await run(cmd, 'suppress-remove', { account, address });
      if (!removed) throw new UserError(`${address} is not on the suppression list of ${account}`);
      process.stdout.write(`${address} removed from the suppression list of ${account}\n`);
    });
  sup
    .command('lookup')
    .argument('<account>')
    .argument('<address>')
    .action(async (account: string, address: string, _o, cmd: Command) => {
      const r = (await run(cmd, 'suppress-lookup', { account, address })) as { baseAddress: string; reason: string } | null;
      process.stdout.write(r ? `suppressed as ${r.baseAddress}: ${r.reason}\n` : 'not suppressed\n');
      if (!r) process.exitCode = 1;
    });
}
