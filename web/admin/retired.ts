/**
 * Admin pages of retired messages (`retired`, `retired/:id`): messages that left the queue
 * (delivered, failed, canceled, suppressed), kept for the account's KeepRetiredMessagePeriod, as
 * `moxts queue retired list|print` (control command "queue", ops retired-*). Newest first, keyset
 * pagination by last activity and id.
 */
import type { UiRouter } from '../ui.js';
import { FormError } from '../ui.js';
import { HttpError } from '../errors.js';
import { html, type HtmlValue } from '../html.js';
import { table, getForm, input, select, time } from '../components.js';
import type { AdminDeps } from './deps.js';
import { ctl, field, pageSize, keyset, pager, accountOptions, attemptsTable, msgFields, extraTable, idParam, sender, recipient, bytes, lastError, type MsgJson } from './common.js';

export function registerRetiredPages(router: UiRouter, deps: AdminDeps): void {
  router.get('retired', async (r) => {
    const account = field(r.query, 'account');
    const to = field(r.query, 'to');
    const success = field(r.query, 'success');
    const n = pageSize(r.query);
    const after = keyset(r.query);
    const filterForm = getForm(
      `${r.base}retired`,
      html`${select('Account', 'account', accountOptions(deps), account)}${input('To contains', 'to', { value: to, size: 16, placeholder: '@example.com' })}${select(
        'Result',
        'success',
        [
          ['', '(any)'],
          ['yes', 'delivered'],
          ['no', 'not delivered'],
        ],
        success,
      )}${input('Per page', 'n', { value: n, type: 'number', size: 4 })}`,
    );
    let msgs: MsgJson[];
    try {
      msgs = await ctl<MsgJson[]>(deps, 'queue', {
        op: 'retired-list',
        account: account || undefined,
        to: to || undefined,
        success: success === 'yes' ? true : success === 'no' ? false : undefined,
        max: n + 1,
        ...after,
      });
    } catch (e) {
      if (!(e instanceof FormError)) throw e;
      return { title: 'Retired messages', status: 400, body: html`${filterForm}<p class="flash error" role="alert">${e.message}</p>` };
    }
    const more = msgs.length > n;
    const page = msgs.slice(0, n);
    const last = page.at(-1);
    const keep: Record<string, string> = { account, to, success };
    if (n !== 50) keep.n = String(n);
    const rows = page.map((m): HtmlValue[] => [
      html`<a href="${r.base}retired/${m.id}">${m.id}</a>`,
      m.senderAccount,
      sender(m),
      recipient(m),
      m.subject,
      bytes(m.size),
      m.outcome,
      m.attempts,
      time(m.lastActivity),
      lastError(m.results),
    ]);
    return {
      title: 'Retired messages',
      body: html`${filterForm}<p class="muted small">Kept for each account's KeepRetiredMessagePeriod (none when it is 0). Newest first.</p>${table(
        ['Id', 'Account', 'From', 'To', 'Subject', 'Size', 'Outcome', 'Attempts', 'Last activity', 'Last error'],
        rows,
        'No retired messages.',
      )}${pager(r, 'retired', keep, { onFirst: !after, more, last: last ? { id: last.id, value: last.lastActivity! } : undefined })}`,
    };
  });

  router.get('retired/:id', async (r) => {
    const id = idParam(r.params.id);
    let m: MsgJson;
    try {
      m = await ctl<MsgJson>(deps, 'queue', { op: 'retired-print', id });
    } catch {
      throw new HttpError(404, `No retired message ${id} (retired messages are kept only for accounts with a KeepRetiredMessagePeriod).`);
    }
    return {
      title: `Retired message ${id}`,
      body: html`<p><a href="${r.base}retired">Back to retired messages</a></p>${msgFields(m)}<h2>Delivery attempts</h2>${attemptsTable(m.results)}<h2>Extra</h2>${extraTable(m.extra)}`,
    };
  });
}
