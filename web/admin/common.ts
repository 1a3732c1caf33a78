/**
 * Pieces shared by the admin queue, retired and webhook pages: calling the CLI's control
 * commands (errors become FormError, shown above the form), reading filter fields from a query or
 * a form, the keyset "next page" link, and the JSON shapes the control commands return.
 */
import { FormError, type UiRequest } from '../ui.js';
import { HttpError } from '../errors.js';
import { html, type HtmlValue, type SafeHtml } from '../html.js';
import { kv, table, time, input, select } from '../components.js';
import type { AdminDeps } from './deps.js';

/** Largest page a list shows (also the default of ?n=). */
export const PAGE_MAX = 1000;
export const PAGE_DEFAULT = 50;

/**
 * Run a control command as `moxts <cmd>` would over the ctl socket. An Error it throws is the
 * same message the CLI prints: shown to the admin as a form error.
 */
export async function ctl<T>(deps: Pick<AdminDeps, 'ctl' | 'log'>, cmd: string, args: Record<string, unknown>): Promise<T> {
  try {
    return (await deps.ctl(cmd, args)) as T;
  } catch (e) {
    if (e instanceof FormError) throw e;
    deps.log.info({ cmd, op: args.op, err: (e as Error).message }, 'admin: control command refused');
    throw new FormError((e as Error).message);
  }
}

/** A source of named string fields: a GET query or a POST form. */
export type Fields = { get(name: string): string | null | undefined };

export function field(f: Fields, name: string): string {
  return (f.get(name) ?? '').trim();
}

/** Page size from `n` (default PAGE_DEFAULT, 1..PAGE_MAX). */
export function pageSize(f: Fields): number {
  const v = field(f, 'n');
  if (!/^\d+$/.test(v)) return PAGE_DEFAULT;
  return Math.min(PAGE_MAX, Math.max(1, Number(v)));
}

/** The keyset position of the next page from the query (`afterid` + `aftervalue`), if any. */
export function keyset(f: Fields): { afterId: number; afterValue: string } | undefined {
  const id = field(f, 'afterid');
  const value = field(f, 'aftervalue');
  if (!/^\d+$/.test(id) || !value || Number.isNaN(new Date(value).getTime())) return undefined;
  return { afterId: Number(id), afterValue: value };
}

/** Query string of `params` without empty values. */
export function qs(params: Record<string, string | number | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') p.set(k, String(v));
  return p.toString();
}

/**
 * The pager under a list: "first page" when not on it, and "next page" carrying the last row's
 * sort value and id (keyset pagination: no OFFSET, stable while rows come and go).
 */
export function pager(r: Pick<UiRequest, 'base'>, path: string, filter: Record<string, string>, o: { onFirst: boolean; more: boolean; last?: { id: number; value: string } }): SafeHtml {
  const first = qs(filter);
  const links: SafeHtml[] = [];
  if (!o.onFirst) links.push(html`<a href="${r.base}${path}${first ? '?' + first : ''}">First page</a>`);
  if (o.more && o.last) links.push(html`<a href="${r.base}${path}?${qs({ ...filter, afterid: o.last.id, aftervalue: o.last.value })}" rel="next">Next page</a>`);
  return links.length ? html`<p class="actions">${links}</p>` : html``;
}

/** Select options of the configured accounts, with "any" first. */
export function accountOptions(deps: Pick<AdminDeps, 'dynamic'>, anyLabel = '(any)'): Array<[string, string]> {
  return [['', anyLabel], ...Object.keys(deps.dynamic().Accounts).sort().map((a): [string, string] => [a, a])];
}

/** Duration in ms as "1.2 s" / "350 ms". */
export function ms(d: number | undefined): string {
  if (d === undefined || !Number.isFinite(d)) return '';
  return d >= 1000 ? `${(d / 1000).toFixed(1)} s` : `${Math.round(d)} ms`;
}

export function yesNo(b: boolean | null | undefined, o: { nullText?: string } = {}): string {
  if (b === null || b === undefined) return o.nullText ?? '';
  return b ? 'yes' : 'no';
}

/** Extra (X-Mox-Extra-* / webapi Extra) as a small table. */
export function extraTable(extra: Record<string, string> | undefined): SafeHtml {
  const rows = Object.entries(extra ?? {}).map(([k, v]): HtmlValue[] => [html`<code>${k}</code>`, v]);
  return table(['Key', 'Value'], rows, 'No Extra.');
}

// ---- JSON shapes returned by the control commands (cmd/queue-ops.ts, cmd/webhook-ops.ts)

export interface AttemptJson {
  start: number;
  durationMs: number;
  success: boolean;
  code?: number;
  enhanced?: string;
  error: string;
  host?: string;
}

export interface MsgJson {
  id: number;
  baseId: number;
  queued: string;
  hold?: boolean;
  senderAccount: string;
  senderLocalpart: string;
  senderDomain: string;
  fromId: string | null;
  recipientLocalpart: string;
  recipientDomain: string;
  attempts: number;
  maxAttempts: number;
  nextAttempt?: string;
  lastAttempt: string | null;
  results: AttemptJson[];
  has8bit: boolean;
  smtputf8: boolean;
  size: number;
  messageId: string;
  subject: string;
  transport: string | null;
  requireTLS: boolean | null;
  futureRelease: string | null;
  extra: Record<string, string>;
  dsn: { notify?: string[]; orcpt?: string; envid?: string; ret?: string };
  // retired messages
  recipientAddress?: string;
  success?: boolean;
  outcome?: string;
  lastActivity?: string;
  keepUntil?: string;
}

export interface HookResultJson {
  start: number;
  durationMs: number;
  url: string;
  success: boolean;
  code: number;
  error: string;
  response: string;
}

export interface HookJson {
  id: number;
  webhookId: string;
  queueMsgId: number;
  fromId: string;
  messageId: string;
  subject: string;
  extra: Record<string, string>;
  account: string;
  url: string;
  hasAuthorization: boolean;
  isIncoming: boolean;
  outgoingEvent: string;
  payload: string;
  submitted: string;
  attempts: number;
  nextAttempt?: string;
  results: HookResultJson[];
  // retired
  supersededById?: number;
  success?: boolean;
  lastActivity?: string;
  keepUntil?: string;
}

export function sender(m: MsgJson): string {
  return `${m.senderLocalpart}@${m.senderDomain}`;
}

export function recipient(m: MsgJson): string {
  return m.recipientAddress ?? `${m.recipientLocalpart}@${m.recipientDomain}`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** The last attempt's result in one line: "451 4.3.0 busy". */
export function lastError(results: ReadonlyArray<{ success: boolean; code?: number; enhanced?: string; error: string }>): string {
  const l = results.at(-1);
  if (!l || l.success) return '';
  return [l.code || '', l.enhanced ?? '', l.error].filter((x) => x !== '').join(' ');
}

/** The attempt history of a queued or retired message (mox Results). */
export function attemptsTable(results: readonly AttemptJson[]): SafeHtml {
  return table(
    ['#', 'Start', 'Duration', 'Success', 'SMTP code', 'Enhanced code', 'Remote host', 'Error'],
    results.map((a, i) => [i + 1, time(a.start), ms(a.durationMs), yesNo(a.success), a.code || '', a.enhanced ?? '', a.host ?? '', a.error]),
    'No delivery attempts yet.',
  );
}

/** Fields of a queued or retired message shown on its detail page. */
export function msgFields(m: MsgJson): SafeHtml {
  const pairs: Array<[HtmlValue, HtmlValue]> = [
    ['Id', m.baseId !== m.id ? html`${m.id} <span class="muted">(submission ${m.baseId})</span>` : m.id],
    ['Account', m.senderAccount],
    ['From (MAIL FROM)', sender(m)],
    ['To', recipient(m)],
    ['Subject', m.subject],
    ['Message-ID', m.messageId],
    ['Size', bytes(m.size)],
    ['Queued', time(m.queued)],
    ['Attempts', `${m.attempts} of ${m.maxAttempts}`],
  ];
  if (m.nextAttempt !== undefined) pairs.push(['Next attempt', m.hold ? html`${time(m.nextAttempt)} <strong>(on hold)</strong>` : time(m.nextAttempt)]);
  pairs.push(['Last attempt', m.lastAttempt ? time(m.lastAttempt) : 'none']);
  if (m.hold !== undefined) pairs.push(['Held', yesNo(m.hold)]);
  if (m.outcome !== undefined) {
    pairs.push(['Outcome', m.outcome], ['Success', yesNo(m.success)], ['Last activity', time(m.lastActivity)], ['Kept until', time(m.keepUntil)]);
  }
  pairs.push(
    ['Transport', m.transport ?? '(default routing)'],
    ['RequireTLS', yesNo(m.requireTLS, { nullText: '(default)' })],
    ['FromID', m.fromId ?? ''],
    ['8-bit / SMTPUTF8', `${yesNo(m.has8bit)} / ${yesNo(m.smtputf8)}`],
  );
  if (m.futureRelease) pairs.push(['Future release', m.futureRelease]);
  const dsn = [m.dsn.notify?.length ? `NOTIFY=${m.dsn.notify.join(',')}` : '', m.dsn.ret ? `RET=${m.dsn.ret}` : '', m.dsn.envid ? `ENVID=${m.dsn.envid}` : '', m.dsn.orcpt ? `ORCPT=${m.dsn.orcpt}` : '']
    .filter(Boolean)
    .join(' ');
  if (dsn) pairs.push(['DSN parameters', dsn]);
  return kv(pairs);
}

/** The numeric id of a `:id` path parameter, else 404. */
export function idParam(v: string | undefined): number {
  if (!v || !/^\d{1,15}$/.test(v)) throw new HttpError(404, 'no such page');
  return Number(v);
}

/** The reschedule fields of the queue and webhook pages: a duration, relative to now or to each item's next attempt. */
export function scheduleFields(): SafeHtml {
  return html`${input('Duration', 'duration', { value: '0s', placeholder: '0s, 30m, 1h', size: 8 })}${select(
    'Relative to',
    'mode',
    [
      ['now', 'now'],
      ['next', 'the next attempt'],
    ],
    'now',
  )}`;
}

/** The ctl "schedule" arguments from the fields of scheduleFields. */
export function scheduleArgs(f: Fields): { duration: string; now: boolean } {
  const mode = field(f, 'mode') || 'now';
  if (mode !== 'now' && mode !== 'next') throw new FormError('Reschedule must be relative to now or to the next attempt');
  return { duration: field(f, 'duration') || '0s', now: mode === 'now' };
}
