/**
 * Admin pages of the webhook queue (`webhooks`, `webhooks/:id`) and of retired webhooks
 * (`webhooks/retired`, `webhooks/retired/:id`): lists with the CLI's filters and keyset
 * pagination, each attempt's status and response, reschedule and cancel of queued webhooks, and
 * replay of a retired one — as `moxts queue webhook ...` (control command "webhook").
 */
import type { UiRequest, UiRouter } from '../ui.js';
import { FormError } from '../ui.js';
import { HttpError } from '../errors.js';
import { html, type HtmlValue, type SafeHtml } from '../html.js';
import { table, kv, getForm, input, select, postForm, postButton, time } from '../components.js';
import type { HookFilterArgs } from '../../cmd/webhook-ops.js';
import type { AdminDeps } from './deps.js';
import { ctl, field, scheduleArgs, scheduleFields, pageSize, keyset, qs, pager, accountOptions, idParam, ms, yesNo, extraTable, type Fields, type HookJson, type HookResultJson } from './common.js';

const EVENTS = ['incoming', 'delivered', 'suppressed', 'delayed', 'failed', 'relayed', 'expanded', 'canceled', 'unrecognized', 'complained'];
const QUEUE_FIELDS = ['ids', 'account', 'event', 'submitted', 'nextattempt'] as const;
const RETIRED_FIELDS = ['ids', 'account', 'event', 'success', 'submitted', 'lastactivity'] as const;

function values<K extends string>(f: Fields, keys: readonly K[]): Record<K, string> {
  const v = {} as Record<K, string>;
  for (const k of keys) v[k] = field(f, k);
  return v;
}

/** Filter values as the CLI sends them (cmd/webhook-cmd.ts). */
function toArgs(v: Partial<Record<(typeof RETIRED_FIELDS)[number] | 'nextattempt', string>>): { filter: HookFilterArgs; active: boolean } {
  const filter: HookFilterArgs = {};
  if (v.ids) {
    const ids = v.ids.split(/[\s,]+/).filter(Boolean);
    if (!ids.every((x) => /^\d{1,15}$/.test(x))) throw new FormError('Ids must be webhook ids (numbers) separated by commas');
    filter.ids = ids.map(Number);
  }
  if (v.account) filter.account = v.account;
  if (v.event) filter.event = v.event;
  if (v.submitted) filter.submitted = v.submitted;
  if (v.nextattempt) filter.nextattempt = v.nextattempt;
  if (v.lastactivity) filter.lastactivity = v.lastactivity;
  if (v.success === 'yes' || v.success === 'no') filter.success = v.success === 'yes';
  return { filter, active: Object.keys(filter).length > 0 };
}

function kind(h: HookJson): string {
  return h.isIncoming ? 'incoming' : h.outgoingEvent;
}

function lastResult(results: readonly HookResultJson[]): string {
  const l = results.at(-1);
  if (!l) return '';
  return l.success ? `${l.code} ok` : [l.code || '', l.error].filter((x) => x !== '').join(' ');
}

const eventOptions = (): Array<[string, string]> => [['', '(any)'], ...EVENTS.map((e): [string, string] => [e, e])];

function attemptsTable(results: readonly HookResultJson[]): SafeHtml {
  return table(
    ['#', 'Start', 'Duration', 'URL', 'Success', 'HTTP status', 'Error', 'Response'],
    results.map((a, i) => [i + 1, time(a.start), ms(a.durationMs), a.url, yesNo(a.success), a.code || 'none', a.error, a.response ? html`<code>${a.response}</code>` : '']),
    'No attempts yet.',
  );
}

function payloadBlock(payload: string): SafeHtml {
  let pretty = payload;
  try {
    pretty = JSON.stringify(JSON.parse(payload), null, 2);
  } catch {
    // shown as stored
  }
  return html`<h2>Payload</h2><pre>${pretty}</pre>`;
}

function hookFields(r: UiRequest, h: HookJson): SafeHtml {
  const pairs: Array<[HtmlValue, HtmlValue]> = [
    ['Id', h.id],
    ['Webhook-Id', html`<code>${h.webhookId}</code>`],
    ['Account', h.account],
    ['Event', kind(h)],
  ];
  if (h.queueMsgId) pairs.push(['Queue message', html`<a href="${r.base}queue/${h.queueMsgId}">${h.queueMsgId}</a>`]);
  pairs.push(['FromID', h.fromId], ['Message-ID', h.messageId], ['Subject', h.subject], ['URL', h.url], ['Authorization', h.hasAuthorization ? 'set (not shown)' : 'none'], ['Submitted', time(h.submitted)], ['Attempts', h.attempts]);
  if (h.nextAttempt !== undefined) pairs.push(['Next attempt', time(h.nextAttempt)]);
  if (h.lastActivity !== undefined) {
    pairs.push(['Success', yesNo(h.success)], ['Last activity', time(h.lastActivity)], ['Kept until', time(h.keepUntil)]);
    if (h.supersededById) pairs.push(['Superseded by', html`webhook ${h.supersededById}`]);
  }
  return kv(pairs);
}

export function registerWebhookPages(router: UiRouter, deps: AdminDeps): void {
  // Retired first: "webhooks/retired" would otherwise match "webhooks/:id".
  router.get('webhooks/retired', async (r) => {
    const v = values(r.query, RETIRED_FIELDS);
    const n = pageSize(r.query);
    const after = keyset(r.query);
    const filterForm = getForm(
      `${r.base}webhooks/retired`,
      html`${select('Account', 'account', accountOptions(deps), v.account)}${select('Event', 'event', eventOptions(), v.event)}${select(
        'Result',
        'success',
        [
          ['', '(any)'],
          ['yes', 'delivered'],
          ['no', 'failed'],
        ],
        v.success,
      )}${input('Submitted', 'submitted', { value: v.submitted, size: 6, placeholder: '<1h' })}${input('Last activity', 'lastactivity', { value: v.lastactivity, size: 6, placeholder: '<1h' })}${input(
        'Ids',
        'ids',
        { value: v.ids, size: 8 },
      )}${input('Per page', 'n', { value: n, type: 'number', size: 4 })}`,
    );
    let hooks: HookJson[];
    try {
      hooks = await ctl<HookJson[]>(deps, 'webhook', { op: 'retired-list', filter: toArgs(v).filter, max: n + 1, ...after });
    } catch (e) {
      if (!(e instanceof FormError)) throw e;
      return { title: 'Retired webhooks', status: 400, body: html`${filterForm}<p class="flash error" role="alert">${e.message}</p>` };
    }
    const more = hooks.length > n;
    const page = hooks.slice(0, n);
    const last = page.at(-1);
    const keep: Record<string, string> = { ...v };
    if (n !== 50) keep.n = String(n);
    const rows = page.map((h): HtmlValue[] => [
      html`<a href="${r.base}webhooks/retired/${h.id}">${h.id}</a>`,
      h.account,
      kind(h),
      h.queueMsgId || '',
      h.url,
      h.attempts,
      h.success ? 'delivered' : 'failed',
      time(h.lastActivity),
      lastResult(h.results),
    ]);
    return {
      title: 'Retired webhooks',
      body: html`<p><a href="${r.base}webhooks">Webhook queue</a></p>${filterForm}<p class="muted small">Kept for each account's KeepRetiredWebhookPeriod. Newest first.</p>${table(
        ['Id', 'Account', 'Event', 'Queue message', 'URL', 'Attempts', 'Result', 'Last activity', 'Last attempt'],
        rows,
        'No retired webhooks.',
      )}${pager(r, 'webhooks/retired', keep, { onFirst: !after, more, last: last ? { id: last.id, value: last.lastActivity! } : undefined })}`,
    };
  });

  router.get('webhooks/retired/:id', async (r) => {
    const id = idParam(r.params.id);
    let h: HookJson;
    try {
      h = await ctl<HookJson>(deps, 'webhook', { op: 'retired-print', id });
    } catch {
      throw new HttpError(404, `No retired webhook ${id}.`);
    }
    return {
      title: `Retired webhook ${id}`,
      body: html`<p><a href="${r.base}webhooks/retired">Back to retired webhooks</a></p>${hookFields(r, h)}<div class="actions">${postButton(r, `webhooks/retired/${id}`, 'Replay')}</div>
<p class="muted small">Replay queues the same payload with the same Webhook-Id again, to the URL the account has configured now.</p>
<h2>Attempts</h2>${attemptsTable(h.results)}${payloadBlock(h.payload)}<h2>Extra</h2>${extraTable(h.extra)}`,
    };
  });

  router.post('webhooks/retired/:id', async (r) => {
    const id = idParam(r.params.id);
    const newId = await ctl<number>(deps, 'webhook', { op: 'replay', id });
    return { redirect: `webhooks/${newId}`, ok: `Retired webhook ${id} queued again as webhook ${newId}.` };
  });

  router.get('webhooks', async (r) => {
    const v = values(r.query, QUEUE_FIELDS);
    const sort = field(r.query, 'sort') === 'submitted' ? 'submitted' : 'nextattempt';
    const desc = field(r.query, 'order') === 'desc';
    const n = pageSize(r.query);
    const after = keyset(r.query);
    const filterForm = getForm(
      `${r.base}webhooks`,
      html`${select('Account', 'account', accountOptions(deps), v.account)}${select('Event', 'event', eventOptions(), v.event)}${input('Submitted', 'submitted', {
        value: v.submitted,
        size: 6,
        placeholder: '<1h',
      })}${input('Next attempt', 'nextattempt', { value: v.nextattempt, size: 6, placeholder: '<now' })}${input('Ids', 'ids', { value: v.ids, size: 8 })}${select(
        'Sort by',
        'sort',
        [
          ['nextattempt', 'next attempt'],
          ['submitted', 'submitted'],
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
    let hooks: HookJson[];
    let active: boolean;
    try {
      const a = toArgs(v);
      active = a.active;
      hooks = await ctl<HookJson[]>(deps, 'webhook', { op: 'list', filter: a.filter, sort: sort === 'submitted' ? 'submitted' : 'nextAttempt', asc: !desc, max: n + 1, ...after });
    } catch (e) {
      if (!(e instanceof FormError)) throw e;
      return { title: 'Webhook queue', status: 400, body: html`${filterForm}<p class="flash error" role="alert">${e.message}</p>` };
    }
    const more = hooks.length > n;
    const page = hooks.slice(0, n);
    const last = page.at(-1);
    const keep: Record<string, string> = { ...v, sort, order: desc ? 'desc' : '' };
    if (n !== 50) keep.n = String(n);
    const rows = page.map((h): HtmlValue[] => [
      html`<a href="${r.base}webhooks/${h.id}">${h.id}</a>`,
      h.account,
      kind(h),
      h.queueMsgId ? html`<a href="${r.base}queue/${h.queueMsgId}">${h.queueMsgId}</a>` : '',
      h.url,
      h.attempts,
      time(h.nextAttempt),
      lastResult(h.results),
    ]);
    const q = qs(v);
    const bulk = page.length
      ? html`<h2>Act on ${active ? 'the matching webhooks' : 'every queued webhook'}</h2>
<form method="post" action="${r.base}webhooks${q ? '?' + q : ''}" class="row" aria-label="Act on the selection">${r.csrf}${QUEUE_FIELDS.filter((k) => v[k] !== '').map(
          (k) => html`<input type="hidden" name="${k}" value="${v[k]}">`,
        )}${active ? '' : html`<label class="check"><input type="checkbox" name="all" value="1"> every queued webhook (no filter set)</label>`}
${scheduleFields()}<div><button type="submit" name="op" value="schedule">Reschedule</button></div><div><button type="submit" name="op" value="cancel" class="danger">Cancel…</button></div></form>`
      : '';
    return {
      title: 'Webhook queue',
      body: html`<p><a href="${r.base}webhooks/retired">Retired webhooks</a></p>${filterForm}${table(
        ['Id', 'Account', 'Event', 'Queue message', 'URL', 'Attempts', 'Next attempt', 'Last attempt'],
        rows,
        active ? 'No queued webhooks match this filter.' : 'No webhooks are queued.',
      )}${pager(r, 'webhooks', keep, { onFirst: !after, more, last: last ? { id: last.id, value: sort === 'submitted' ? last.submitted : last.nextAttempt! } : undefined })}${bulk}`,
    };
  });

  router.post('webhooks', async (r) => {
    const op = field(r.form, 'op');
    if (op !== 'schedule' && op !== 'cancel') throw new FormError('Unknown action');
    const v = values(r.form, QUEUE_FIELDS);
    const { filter, active } = toArgs(v);
    const all = r.form.checkbox('all');
    if (!active && !all) throw new FormError('No filter is set, so this would change every queued webhook: set a filter, or tick "every queued webhook".');
    const q = qs(v);
    if (op === 'cancel' && !r.form.checkbox('confirm')) {
      const hooks = await ctl<HookJson[]>(deps, 'webhook', { op: 'list', filter, max: 100_000 });
      return {
        title: 'Cancel webhooks?',
        body: html`<p role="alert">This cancels the ${hooks.length} queued webhook${hooks.length === 1 ? '' : 's'} matching the filter${all ? ' (every queued webhook)' : ''}: they are retired as failed and not sent.</p>
<form method="post" action="${r.base}webhooks${q ? '?' + q : ''}" class="row">${r.csrf}${QUEUE_FIELDS.filter((k) => v[k] !== '').map((k) => html`<input type="hidden" name="${k}" value="${v[k]}">`)}${
          all ? html`<input type="hidden" name="all" value="1">` : ''
        }<input type="hidden" name="confirm" value="1"><button type="submit" name="op" value="cancel" class="danger">Yes, cancel ${hooks.length}</button> <a href="${r.base}webhooks${q ? '?' + q : ''}">Back</a></form>`,
      };
    }
    const res = await ctl<unknown>(deps, 'webhook', { op, filter, all: !active && all, ...(op === 'schedule' ? scheduleArgs(r.form) : {}) });
    const n = Array.isArray(res) ? res.length : Number(res);
    return { redirect: `webhooks${q ? '?' + q : ''}`, ok: `${n} webhook${n === 1 ? '' : 's'} ${op === 'cancel' ? 'canceled' : 'rescheduled'}.` };
  });

  router.get('webhooks/:id', async (r) => {
    const id = idParam(r.params.id);
    let h: HookJson;
    try {
      h = await ctl<HookJson>(deps, 'webhook', { op: 'print', id });
    } catch {
      // Delivered or canceled meanwhile: its retired record, if kept (the flash message stays).
      const kept = await deps.ctl('webhook', { op: 'retired-print', id }).then(
        () => true,
        () => false,
      );
      if (kept) return { redirect: `webhooks/retired/${id}` };
      throw new HttpError(404, `Webhook ${id} is not queued (it may have been delivered, canceled, or not kept).`);
    }
    return {
      title: `Queued webhook ${id}`,
      body: html`<p><a href="${r.base}webhooks">Back to the webhook queue</a></p>${hookFields(r, h)}${postForm(
        r,
        `webhooks/${id}`,
        html`<input type="hidden" name="op" value="schedule">${scheduleFields()}`,
        { layout: 'row', submit: 'Reschedule', label: 'Reschedule' },
      )}<div class="actions">${postButton(r, `webhooks/${id}`, 'Cancel webhook', { op: 'cancel' }, { danger: true })}</div>
<h2>Attempts</h2>${attemptsTable(h.results)}${payloadBlock(h.payload)}<h2>Extra</h2>${extraTable(h.extra)}`,
    };
  });

  router.post('webhooks/:id', async (r) => {
    const id = idParam(r.params.id);
    const op = field(r.form, 'op');
    if (op !== 'schedule' && op !== 'cancel') throw new FormError('Unknown action');
    const res = await ctl<unknown>(deps, 'webhook', { op, filter: { ids: [id] }, ...(op === 'schedule' ? scheduleArgs(r.form) : {}) });
    const n = Array.isArray(res) ? res.length : Number(res);
    if (n === 0) throw new FormError(`Webhook ${id} is no longer queued.`);
    return op === 'cancel' ? { redirect: `webhooks/${id}`, ok: `Webhook ${id} canceled.` } : { redirect: `webhooks/${id}`, ok: `Webhook ${id} rescheduled.` };
  });
}
