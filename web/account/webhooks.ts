/**
 * `webhooks`: the account's OutgoingWebhook {URL, Authorization, Events} and IncomingWebhook {URL,
 * Authorization} (mox §2.1), saved to domains.conf by the same function as `moxts config webhook`;
 * "Send test" buttons that POST a signed example payload to the configured URL now (the CLI's
 * `queue webhook test`) and show the HTTP status, duration and the start of the response; and
 * the signing secret (Standard Webhooks), shown once right after it is generated or rotated,
 * afterwards only its creation time and fingerprint.
 */
import { OUTGOING_WEBHOOK_EVENTS } from '../../config/dynamic-schema.js';
import type { WebhookKind, WebhookSettings } from '../../config/webhook-config.js';
import { html, type SafeHtml } from '../html.js';
import { checkbox, input, kv, postButton, postForm, time } from '../components.js';
import { FormError, type Page, type UiRequest, type UiRouter } from '../ui.js';
import type { AccountDeps } from './deps.js';
import { editConfig, orPage } from './edit.js';
import { putOnce, takeOnce } from './once.js';

/** Characters of a test response shown on the page (the webhook worker keeps 512 bytes). */
export const TEST_RESPONSE_SHOWN = 512;
/** How long the previous secret still signs after a rotation (the CLI's default). */
export const ROTATE_OVERLAP = '24h';

/** The result of the "test" control command (cmd/webhook-ops.ts). */
interface TestResult {
  url: string;
  code: number;
  response: string;
  error: string;
  durationMs: number;
}

interface ShownTest extends TestResult {
  kind: WebhookKind;
}

interface SecretInfo {
  created: string | Date;
  fingerprint: string;
  previousUntil?: string | Date;
}

/** Form values to show again after a refused save. */
interface Draft {
  kind: WebhookKind;
  url: string;
  authorization: string;
  events: string[];
  error: string;
}

const EVENT_HELP: Record<string, string> = {
  delivered: 'accepted by the recipient server',
  suppressed: 'not sent: recipient on the suppression list',
  delayed: 'temporary failure, will be retried',
  failed: 'permanent failure',
  relayed: 'delivered to a server that does not send DSNs',
  expanded: 'delivered to a list/alias that expands',
  canceled: 'removed from the queue by the admin',
  unrecognized: 'a report (DSN) that could not be matched',
  complained: 'a feedback-loop complaint arrived',
};

function kindLabel(k: WebhookKind): string {
  return k === 'outgoing' ? 'Outgoing' : 'Incoming';
}

function testResult(t: ShownTest): SafeHtml {
  const ok = t.code === 200;
  const body = t.response.length > TEST_RESPONSE_SHOWN ? `${t.response.slice(0, TEST_RESPONSE_SHOWN)}…` : t.response;
  return html`<section class="test-result" aria-label="test result"><h2>Test of the ${t.kind} webhook</h2>
<p class="flash ${ok ? 'ok' : 'error'}" role="status">${ok ? 'Success: ' : 'Failed: '}${t.code ? `HTTP status ${t.code}` : 'no response'} after ${Math.round(t.durationMs)} ms.</p>
${kv([
  ['URL', html`<code>${t.url}</code>`],
  ['Status', html`<span class="test-status">${t.code || 'none'}</span>`],
  ['Duration', `${t.durationMs.toFixed(1)} ms`],
  ...(t.error ? ([['Error', t.error]] as const) : []),
])}
<h3>Response body${t.response.length >= TEST_RESPONSE_SHOWN ? html` <span class="muted small">(first ${TEST_RESPONSE_SHOWN} characters)</span>` : ''}</h3>
${body ? html`<pre class="test-response">${body}</pre>` : html`<p class="muted">Empty.</p>`}</section>`;
}

function webhookForm(r: UiRequest, kind: WebhookKind, cur: { URL: string; Authorization?: string; Events?: readonly string[] } | undefined, draft: Draft | undefined): SafeHtml {
  const d = draft?.kind === kind ? draft : undefined;
  const url = d ? d.url : (cur?.URL ?? '');
  const auth = d ? d.authorization : (cur?.Authorization ?? '');
  const events = d ? d.events : [...(cur?.Events ?? [])];
  const fields = html`${d ? html`<p class="flash error" role="alert">${d.error}</p>` : ''}
${input('URL (http or https)', 'url', { type: 'url', value: url, required: true, placeholder: `https://app.example/hooks/${kind}`, autocomplete: 'off' })}
${input(html`Authorization header <span class="muted small">(optional, sent verbatim, e.g. "Bearer …")</span>`, 'authorization', { value: auth, autocomplete: 'off' })}
${
  kind === 'outgoing'
    ? html`<fieldset><legend>Events <span class="muted small">(none checked: all events)</span></legend>${OUTGOING_WEBHOOK_EVENTS.map((e) =>
        checkbox(html`<code>${e}</code> <span class="muted small">${EVENT_HELP[e] ?? ''}</span>`, 'events', events.includes(e), e),
      )}</fieldset>`
    : ''
}`;
  return html`<section aria-labelledby="${kind}-h"><h2 id="${kind}-h">${kindLabel(kind)} webhook</h2>
<p class="muted">${
    kind === 'outgoing'
      ? 'Called for delivery events of messages you send (delivered, failed, …).'
      : 'Called for each message delivered to this account over SMTP.'
  } ${cur ? '' : 'Not configured.'}</p>
${postForm(r, `webhooks/${kind}`, fields, { submit: `Save ${kind} webhook`, label: `${kind} webhook` })}
${
  cur
    ? html`<div class="actions">${postButton(r, 'webhooks/test', `Send test (${kind})`, { kind })}${postButton(r, `webhooks/${kind}/remove`, `Remove ${kind} webhook`, {}, { danger: true })}</div>`
    : ''
}</section>`;
}

async function secretSection(r: UiRequest, deps: AccountDeps, account: string): Promise<SafeHtml> {
  const info = (await deps.ctl('webhook', { op: 'secret', account, peek: true })) as SecretInfo | null;
  const about = info
    ? kv([
        ['Created', time(info.created)],
        ['Fingerprint', html`<code class="fingerprint">${info.fingerprint}</code> <span class="muted small">(SHA-256 of the secret, first 16 hex digits)</span>`],
        ...(info.previousUntil ? ([['Previous secret', html`still signs until ${time(info.previousUntil)}`]] as const) : []),
      ])
    : html`<p class="muted">No signing secret yet (one is created with the first webhook).</p>`;
  return html`<section aria-labelledby="secret-h"><h2 id="secret-h">Signing secret</h2>
<p>Every webhook is signed (<a href="https://www.standardwebhooks.com">Standard Webhooks</a>: headers <code>webhook-id</code>, <code>webhook-timestamp</code>, <code>webhook-signature</code>); verify the signature with this secret before trusting a request.</p>
${about}
<div class="actions">${postButton(r, 'webhooks/secret', info ? 'Rotate signing secret' : 'Generate signing secret', {}, { secondary: !!info })}</div>
${info ? html`<p class="muted small">After a rotation the old secret keeps signing (as a second signature) for ${ROTATE_OVERLAP}, so your application can switch without refusing webhooks.</p>` : ''}</section>`;
}

async function webhooksPage(r: UiRequest, deps: AccountDeps, draft?: Draft): Promise<Page> {
  const account = r.session.account!;
  const acc = deps.dynamic().Accounts[account];
  const test = takeOnce<ShownTest>(r.session, 'webhook-test');
  // A secret just generated or rotated: shown at the top, this once.
  const fresh = takeOnce<string>(r.session, 'webhook-secret');
  return {
    title: 'Webhooks',
    status: draft ? 400 : 200,
    body: html`<p>Your application receives HTTP POSTs with JSON about your messages. Success is HTTP status 200; anything else is retried for about a day and a half.</p>
${
  fresh
    ? html`<section class="flash ok secret-once" role="status" aria-label="new signing secret"><p><strong>Your new signing secret. Copy it now: it is not shown again</strong> (afterwards only its fingerprint).</p><pre class="secret">${fresh}</pre></section>`
    : ''
}${test ? testResult(test) : ''}
${webhookForm(r, 'outgoing', acc?.OutgoingWebhook, draft)}
${webhookForm(r, 'incoming', acc?.IncomingWebhook, draft)}
${await secretSection(r, deps, account)}`,
  };
}

export function registerWebhooks(router: UiRouter, deps: AccountDeps): void {
  const page = (r: UiRequest) => webhooksPage(r, deps);
  router.get('webhooks', page);

  for (const kind of ['outgoing', 'incoming'] as const) {
    router.post(`webhooks/${kind}`, async (r) => {
      const account = r.session.account!;
      const s: WebhookSettings = { url: r.form.text('url'), authorization: r.form.text('authorization'), ...(kind === 'outgoing' ? { events: r.form.all('events') } : {}) };
      try {
        await editConfig(account, () => deps.setAccountWebhook(account, kind, s));
      } catch (e) {
        // Show the form again with what was typed, and the reason.
        if (e instanceof FormError) return webhooksPage(r, deps, { kind, url: s.url, authorization: s.authorization ?? '', events: [...(s.events ?? [])], error: e.message });
        throw e;
      }
      return { redirect: 'webhooks', ok: `${kindLabel(kind)} webhook saved.` };
    });
    router.post(`webhooks/${kind}/remove`, orPage(page, async (r) => {
      const account = r.session.account!;
      await editConfig(account, () => deps.setAccountWebhook(account, kind, undefined));
      return { redirect: 'webhooks', ok: `${kindLabel(kind)} webhook removed (webhooks already queued are still sent).` };
    }));
  }

  router.post('webhooks/test', orPage(page, async (r) => {
    const account = r.session.account!;
    const kind = r.form.text('kind');
    if (kind !== 'outgoing' && kind !== 'incoming') throw new FormError('Choose the outgoing or the incoming webhook to test.');
    const acc = deps.dynamic().Accounts[account];
    if (!(kind === 'outgoing' ? acc?.OutgoingWebhook : acc?.IncomingWebhook)) throw new FormError(`No ${kind} webhook is configured; save its URL first.`);
    const t = (await deps.ctl('webhook', { op: 'test', account, kind })) as TestResult;
    putOnce(r.session, 'webhook-test', { kind, url: t.url, code: t.code, response: t.response, error: t.error, durationMs: t.durationMs } satisfies ShownTest);
    return { redirect: 'webhooks' };
  }));

  router.post('webhooks/secret', async (r) => {
    const account = r.session.account!;
    const existing = await deps.ctl('webhook', { op: 'secret', account, peek: true });
    // The first secret is created (not rotated: there is nothing to keep signing with).
    const s = (await deps.ctl('webhook', existing ? { op: 'secret', account, rotate: true, overlap: ROTATE_OVERLAP } : { op: 'secret', account })) as { current: string };
    putOnce(r.session, 'webhook-secret', s.current);
    deps.log.info({ account }, existing ? 'webhook signing secret rotated' : 'webhook signing secret created');
    return { redirect: 'webhooks', ok: existing ? 'Signing secret rotated.' : 'Signing secret created.' };
  });
}
