/**
 * The account pages in a real browser (Chromium through playwright-core): a user logs in, edits
 * the webhook config, presses "Send test" against a local receiver and sees its status, and
 * rotates the signing secret (shown once). The pages have no script; everything is forms.
 * Screenshots: test-output/screenshots/account-*.png.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWebServer, ACCOUNT_PASSWORD } from './helpers/web.js';
import { WebhookReceiver } from './helpers/webhook-receiver.js';
import { launchBrowser, screenshot } from './helpers/browser.js';
import { verifyWebhook } from '../webhook/sign.js';

test('account pages in a browser: log in, edit the webhook, send a test, rotate the signing secret', async (t) => {
  // The browser first: without Chromium the test fails here, before anything is left running.
  const b = await launchBrowser();
  t.after(() => b.close());
  const ts = await startWebServer();
  t.after(() => ts.stop());
  const rx = await WebhookReceiver.start();
  t.after(() => rx.close());
  const { page } = await b.newPage({ viewport: { width: 1100, height: 900 } });
  // The pages must not need script: the CSP forbids it and the browser reports any violation.
  const cspErrors: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text());
  });

  await page.goto(`${ts.origin}/account/`);
  await page.getByLabel('Email address').fill('mjl@example.com');
  await page.getByLabel('Password').fill(ACCOUNT_PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Account' }).waitFor();
  assert.match(await page.locator('main').innerText(), /mjl@example\.com/);
  await screenshot(page, 'account-start');

  await page.getByRole('navigation', { name: 'main' }).getByRole('link', { name: 'Webhooks' }).click();
  const out = page.getByRole('form', { name: 'outgoing webhook' });
  await out.getByLabel('URL (http or https)').fill(`${rx.url}/hooks/out`);
  await out.getByLabel(/Authorization header/).fill('Bearer browser-token');
  await out.getByRole('checkbox', { name: /^delivered/ }).check();
  await out.getByRole('checkbox', { name: /^failed/ }).check();
  await out.getByRole('button', { name: 'Save outgoing webhook' }).click();
  await page.getByText('Outgoing webhook saved.').waitFor();
  assert.deepEqual(ts.server.dynamic().Accounts.mjl!.OutgoingWebhook, { URL: `${rx.url}/hooks/out`, Authorization: 'Bearer browser-token', Events: ['delivered', 'failed'] });

  rx.respond = () => ({ status: 200, body: 'hello from the app' });
  await page.getByRole('button', { name: 'Send test (outgoing)' }).click();
  const result = page.getByRole('region', { name: 'test result' });
  await result.waitFor();
  assert.match(await result.innerText(), /Success: HTTP status 200/);
  assert.match(await result.innerText(), /hello from the app/);
  assert.equal(rx.requests.length, 1);
  assert.equal(rx.requests[0]!.headers.authorization, 'Bearer browser-token');
  await screenshot(page, 'account-webhooks-test');

  await page.getByRole('button', { name: 'Rotate signing secret' }).click();
  await page.getByText('Signing secret rotated.').waitFor();
  const secret = (await page.locator('pre.secret').innerText()).trim();
  assert.match(secret, /^whsec_/);
  assert.equal(secret, ts.server.webhooks.store.secrets('mjl').current);
  await screenshot(page, 'account-webhooks-secret');

  // Reloading does not show it again; the next test webhook is signed with it.
  await page.reload();
  assert.equal(await page.locator('pre.secret').count(), 0);
  assert.ok(!(await page.content()).includes(secret));
  await page.getByRole('button', { name: 'Send test (outgoing)' }).click();
  await result.waitFor();
  const last = rx.requests[rx.requests.length - 1]!;
  verifyWebhook(secret, last.headers, last.body);
  assert.deepEqual(cspErrors, []);
});
