/**
 * Admin pages of the outbound queue (`queue`, `queue/:id`, `queue/:id/source`): the list with
 * the CLI's filters (`moxts queue list`), keyset pagination, the attempt history of a message,
 * and hold / release / reschedule / fail / drop on one message or on the filtered selection.
 * Every action is the CLI's control command (`deps.ctl('queue', {op, filter, ...})`).
 */
import type { UiRequest, UiRouter } from '../ui.js';
import { FormError } from '../ui.js';
import { HttpError } from '../errors.js';
import { html, type HtmlValue, type SafeHtml } from '../html.js';
import { table, getForm, input, select, postForm, postButton, time } from '../components.js';
import type { FilterArgs } from '../../cmd/queue-ops.js';
import type { AdminDeps } from './deps.js';
import {
  ctl,
  field,
  scheduleArgs,
  scheduleFields,
  pageSize,
  keyset,
  qs,
  pager,
  accountOptions,
  attemptsTable,
  msgFields,
  extraTable,
  idParam,
  sender,
  recipient,
  bytes,
  lastError,
  type Fields,
  type MsgJson,
} from './common.js';

/** Shown per page of message source (`queue/:id/source`). */
const SOURCE_MAX_CHARS = 1024 * 1024;

const FILTER_FIELDS = ['ids', 'account', 'from', 'to', 'hold', 'submitted', 'nextattempt', 'transport'] as const;
/** The transport filter value for "messages without a transport override". */
const NO_TRANSPORT = '-';

type FilterValues = Record<(typeof FILTER_FIELDS)[number], string>;

function filterValues(f: Fields): FilterValues {
  const v = {} as FilterValues;
  for (const k of FILTER_FIELDS) v[k] = field(f, k);
  return v;
}

/** The filter values as the CLI sends them (cmd/queue-cmd.ts filterArgs); FormError on bad ids. */
export function toFilterArgs(v: FilterValues): { filter: FilterArgs; active: boolean } {
  const filter: FilterArgs = {};
  if (v.ids) {
    const ids = v.ids.split(/[\s,]+/).filter(Boolean);
    if (!ids.every((x) => /^\d{1,15}$/.test(x))) throw new FormError('Ids must be queue ids (numbers) separated by commas');
    filter.ids = ids.map(Number);
  }
  if (v.account) filter.account = v.account;
  if (v.from) filter.from = v.from;
  if (v.to) filter.to = v.to;
  if (v.hold === 'yes' || v.hold === 'no') filter.hold = v.hold === 'yes';
  if (v.submitted) filter.submitted = v.submitted;
  if (v.nextattempt) filter.nextattempt = v.nextattempt;
  if (v.transport) filter.transport = v.transport === NO_TRANSPORT ? '' : v.transport;
  return { filter, active: Object.keys(filter).length > 0 };
}

function opVerb(op: string): string {
  return (
    { hold: 'held', unhold: 'released from hold', schedule: 'rescheduled', fail: 'failed (DSN sent to the sender)', drop: 'dropped', transport: 'given the transport', requiretls: 'given the RequireTLS setting' }[op] ??
    op
  );
}

const OPS = ['hold', 'unhold', 'schedule', 'fail', 'drop', 'transport', 'requiretls'] as const;

/**
 * The arguments of an op beyond the filter, as the CLI sends them: reschedule duration, transport
 * (`settransport`: a configured transport, "" for default routing), RequireTLS (`setrequiretls`).
 */
function opArgs(deps: AdminDeps, op: string, f: Fields): Record<string, unknown> {
  if (op === 'schedule') return scheduleArgs(f);
  if (op === 'transport') {
    const t = field(f, 'settransport');
    if (t && !Object.hasOwn(deps.static.Transports ?? {}, t)) throw new FormError(`No transport "${t}" in mox.conf`);
    return { transport: t };
  }
  if (op === 'requiretls') {
    const v = field(f, 'setrequiretls');
    if (!['yes', 'no', 'default'].includes(v)) throw new FormError('RequireTLS must be yes, no or default');
    return { value: v };
  }
  return {};
}

function transportFields(deps: AdminDeps): SafeHtml {
  const ts = Object.keys(deps.static.Transports ?? {}).sort();
  return html`${select('Transport', 'settransport', [['', '(default routing)'], ...ts.map((t): [string, string] => [t, t])], '')}`;
}

function requireTLSField(): SafeHtml {
  return select(
    'RequireTLS',
    'setrequiretls',
    [
      ['default', '(default)'],
      ['yes', 'yes'],
      ['no', 'no (TLS-Required: No)'],
    ],
    'default',
  );
}

function count(r: unknown): number {
  return Array.isArray(r) ? r.length : Number(r);
}

export function registerQueuePages(router: UiRouter, deps: AdminDeps): void {
  const transports = () => Object.keys(deps.static.Transports ?? {}).sort();

  router.get('queue', async (r) => {
    const v = filterValues(r.query);
    const sort = field(r.query, 'sort') === 'queued' ? 'queued' : 'nextattempt';
    const desc = field(r.query, 'order') === 'desc';
    const n = pageSize(r.query);
    const after = keyset(r.query);
    const filterForm = getForm(
      `${r.base}queue`,
      html`${select('Account', 'account', accountOptions(deps), v.account)}${input('From contains', 'from', { value: v.from, size: 16 })}${input('To contains', 'to', {
        value: v.to,
        size: 16,
        placeholder: '@example.com',
      })}${select(
        'Held',
        'hold',
        [
          ['', '(any)'],
          ['yes', 'held'],
          ['no', 'not held'],
        ],
        v.hold,
      )}${input('Submitted', 'submitted', { value: v.submitted, size: 6, placeholder: '<1h' })}${input('Next attempt', 'nextattempt', { value: v.nextattempt, size: 6, placeholder: '<now' })}${select(
        'Transport',
        'transport',
        [['', '(any)'], [NO_TRANSPORT, '(default routing)'], ...transports().map((t): [string, string] => [t, t])],
        v.transport,
      )}${input('Ids', 'ids', { value: v.ids, size: 8, placeholder: '12,13' })}${select(
        'Sort by',
        'sort',
        [
          ['nextattempt', 'next attempt'],
          ['queued', 'submitted'],
        ],
        sort,
      )}${select(
        'Order',
        'order',
        [
          ['asc', 'ascending'],
          ['desc', 'descending'],
        ],
        desc ? 'desc' : 'asc',
      )}${input('Per page', 'n', { value: n, type: 'number', size: 4 })}`,
    );
    const help = html`<p class="muted small">Times: "&lt;1h" = within the hour (submitted less than an hour ago, next attempt within the hour or overdue), "&gt;2h" = beyond; "&lt;now" = due.</p>`;

    let filter: FilterArgs;
    let active: boolean;
    let msgs: MsgJson[];
    let total: number;
    try {
      ({ filter, active } = toFilterArgs(v));
      msgs = await ctl<MsgJson[]>(deps, 'queue', { op: 'list', filter, sort: sort === 'queued' ? 'queued' : 'nextAttempt', asc: !desc, max: n + 1, ...after });
      total = await ctl<number>(deps, 'queue', { op: 'count', filter });
    } catch (e) {
      if (!(e instanceof FormError)) throw e;
      return { title: 'Queue', status: 400, body: html`${filterForm}${help}<p class="flash error" role="alert">${e.message}</p>` };
    }
    const more = msgs.length > n;
    const page = msgs.slice(0, n);
    const lastRow = page.at(-1);
    const keep: Record<string, string> = { ...v, sort, order: desc ? 'desc' : '' };
    if (n !== 50) keep.n = String(n);
    const here = qs({ ...keep, afterid: after?.afterId, aftervalue: after?.afterValue });
    const rows = page.map((m): HtmlValue[] => [
      html`<a href="${r.base}queue/${m.id}">${m.id}</a>`,
      html`${sender(m)}<br><span class="muted small">${m.senderAccount}</span>`,
      recipient(m),
      m.subject,
      bytes(m.size),
      `${m.attempts}/${m.maxAttempts}`,
      time(m.nextAttempt),
      m.hold
        ? html`<strong>held</strong> ${postButton(r, `queue/${m.id}`, 'Release', { op: 'unhold', back: here }, { secondary: true })}`
        : html`no ${postButton(r, `queue/${m.id}`, 'Hold', { op: 'hold', back: here }, { secondary: true })}`,
      shorten(lastError(m.results)),
    ]);
    const summary = html`<p>${total} message${total === 1 ? '' : 's'} ${active ? 'match this filter' : 'queued'}${after ? '; not the first page' : ''}.</p>`;
    return {
      title: 'Queue',
      body: html`${filterForm}${help}${summary}${table(['Id', 'From (account)', 'To', 'Subject', 'Size', 'Attempts', 'Next attempt', 'Held', 'Last error'], rows, active ? 'No queued messages match this filter.' : 'The queue is empty.')}${pager(
        r,
        'queue',
        keep,
        { onFirst: !after, more, last: lastRow ? { id: lastRow.id, value: sort === 'queued' ? lastRow.queued : lastRow.nextAttempt! } : undefined },
      )}${total > 0 ? bulkForm(r, deps, v, total, active) : ''}`,
    };
  });

  // Actions on the filtered selection. The form posts to the list's own URL (with its query), so
  // a refused form shows the same list again with the error.
  router.post('queue', async (r) => {
    const op = field(r.form, 'op');
    if (!(OPS as readonly string[]).includes(op)) throw new FormError('Unknown action');
    const v = filterValues(r.form);
    const { filter, active } = toFilterArgs(v);
    const all = r.form.checkbox('all');
    if (!active && !all) throw new FormError('No filter is set, so this would change every queued message: set a filter, or tick "every queued message".');
    if ((op === 'fail' || op === 'drop') && !r.form.checkbox('confirm')) {
      const n = await ctl<number>(deps, 'queue', { op: 'count', filter });
      return confirmPage(r, op, v, all, n);
    }
    const res = await ctl<unknown>(deps, 'queue', { op, filter, all: !active && all, ...opArgs(deps, op, r.form) });
    const n = count(res);
    return { redirect: listPath(v), ok: `${n} message${n === 1 ? '' : 's'} ${opVerb(op)}.` };
  });

  router.get('queue/:id', async (r) => {
    const id = idParam(r.params.id);
    const [m] = await ctl<MsgJson[]>(deps, 'queue', { op: 'list', filter: { ids: [id] }, max: 1 });
    if (!m) return goneOrMissing(id);
    const actions = html`<div class="actions">${
      m.hold ? postButton(r, `queue/${id}`, 'Release from hold', { op: 'unhold' }) : postButton(r, `queue/${id}`, 'Hold', { op: 'hold' })
    }${postButton(r, `queue/${id}`, 'Fail (DSN to sender)', { op: 'fail' }, { danger: true })}${postButton(r, `queue/${id}`, 'Drop (no DSN)', { op: 'drop' }, { danger: true })}</div>${postForm(
      r,
      `queue/${id}`,
      html`<input type="hidden" name="op" value="schedule">${scheduleFields()}`,
      { layout: 'row', submit: 'Reschedule', label: 'Reschedule' },
    )}${postForm(r, `queue/${id}`, html`<input type="hidden" name="op" value="transport">${transportFields(deps)}`, { layout: 'row', submit: 'Set transport', label: 'Transport' })}${postForm(
      r,
      `queue/${id}`,
      html`<input type="hidden" name="op" value="requiretls">${requireTLSField()}`,
      { layout: 'row', submit: 'Set RequireTLS', label: 'RequireTLS' },
    )}`;
    return {
      title: `Queued message ${id}`,
      body: html`<p><a href="${r.base}queue">Back to the queue</a> · <a href="${r.base}queue/${id}/source">Message source</a></p>${msgFields(m)}${actions}<h2>Delivery attempts</h2>${attemptsTable(
        m.results,
      )}<h2>Extra</h2>${extraTable(m.extra)}`,
    };
  });

  router.post('queue/:id', async (r) => {
    const id = idParam(r.params.id);
    const op = field(r.form, 'op');
    if (!(OPS as readonly string[]).includes(op)) throw new FormError('Unknown action');
    const res = await ctl<unknown>(deps, 'queue', { op, filter: { ids: [id] }, ...opArgs(deps, op, r.form) });
    const n = count(res);
    if (n === 0) throw new FormError(`Message ${id} is no longer in the queue.`);
    const ok = `Message ${id} ${opVerb(op)}.`;
    // Back to the list page the button was on (re-serialised: only a query string survives).
    const back = new URLSearchParams(field(r.form, 'back')).toString();
    if (op === 'fail' || op === 'drop') {
      const kept = await deps.ctl('queue', { op: 'retired-print', id }).then(
        () => true,
        () => false,
      );
      return { redirect: kept ? `retired/${id}` : 'queue', ok };
    }
    // From the list: back to the same page of the list.
    return { redirect: back !== '' || r.form.has('back') ? `queue${back ? '?' + back : ''}` : `queue/${id}`, ok };
  });

  router.get('queue/:id/source', async (r) => {
    const id = idParam(r.params.id);
    let src: string;
    try {
      src = await ctl<string>(deps, 'queue', { op: 'dump', id });
    } catch {
      return goneOrMissing(id);
    }
    const cut = src.length > SOURCE_MAX_CHARS;
    return {
      title: `Source of queued message ${id}`,
      body: html`<p><a href="${r.base}queue/${id}">Back to message ${id}</a></p>${cut ? html`<p class="muted">First ${SOURCE_MAX_CHARS} bytes of ${src.length}.</p>` : ''}<pre>${
        cut ? src.slice(0, SOURCE_MAX_CHARS) : src
      }</pre>`,
    };
  });

  /** A message that left the queue: to its retired record when kept, else 404. */
  async function goneOrMissing(id: number) {
    const kept = await deps.ctl('queue', { op: 'retired-print', id }).then(
      () => true,
      () => false,
    );
    if (kept) return { redirect: `retired/${id}` };
    throw new HttpError(404, `Message ${id} is not in the queue (it may have been delivered or removed).`);
  }
}

/** Long last errors are cut in the list (the detail page has them whole), full text in the title. */
function shorten(s: string, max = 90): HtmlValue {
  return s.length <= max ? s : html`<span title="${s}">${s.slice(0, max - 1)}…</span>`;
}

function listPath(v: FilterValues): string {
  const q = qs(v);
  return `queue${q ? '?' + q : ''}`;
}

function hiddenFilter(v: FilterValues): SafeHtml {
  return html`${FILTER_FIELDS.filter((k) => v[k] !== '').map((k) => html`<input type="hidden" name="${k}" value="${v[k]}">`)}`;
}

/** Actions on every message matching the list's filter (not only the page shown). */
function bulkForm(r: UiRequest, deps: AdminDeps, v: FilterValues, total: number, active: boolean): SafeHtml {
  const q = qs(v);
  return html`<h2>Act on ${active ? `the ${total} matching message${total === 1 ? '' : 's'}` : `every queued message (${total})`}</h2>
<form method="post" action="${r.base}queue${q ? '?' + q : ''}" class="row" aria-label="Act on the selection">${r.csrf}${hiddenFilter(v)}${
    active ? '' : html`<label class="check"><input type="checkbox" name="all" value="1"> every queued message (no filter set)</label>`
  }
<div class="actions"><button type="submit" name="op" value="hold">Hold</button><button type="submit" name="op" value="unhold">Release</button></div>
${scheduleFields()}<div><button type="submit" name="op" value="schedule">Reschedule</button></div>
${transportFields(deps)}<div><button type="submit" name="op" value="transport" class="secondary">Set transport</button></div>
${requireTLSField()}<div><button type="submit" name="op" value="requiretls" class="secondary">Set RequireTLS</button></div>
<div class="actions"><button type="submit" name="op" value="fail" class="danger">Fail (DSN)…</button><button type="submit" name="op" value="drop" class="danger">Drop…</button></div></form>`;
}

function confirmPage(r: UiRequest, op: string, v: FilterValues, all: boolean, n: number) {
  const q = qs(v);
  const what = op === 'fail' ? 'fail (each sender gets a failure DSN)' : 'drop (no DSN)';
  return {
    title: op === 'fail' ? 'Fail messages?' : 'Drop messages?',
    body: html`<p role="alert">This will ${what} the ${n} queued message${n === 1 ? '' : 's'} matching the filter${all ? ' (every queued message)' : ''}. Messages queued meanwhile that match are included.</p>
<form method="post" action="${r.base}queue${q ? '?' + q : ''}" class="row">${r.csrf}${hiddenFilter(v)}${all ? html`<input type="hidden" name="all" value="1">` : ''}<input type="hidden" name="confirm" value="1">
<button type="submit" name="op" value="${op}" class="danger">Yes, ${op} ${n} message${n === 1 ? '' : 's'}</button> <a href="${r.base}${listPath(v)}">Cancel</a></form>`,
  };
}
