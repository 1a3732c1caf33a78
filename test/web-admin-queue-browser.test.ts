/**
 * The admin queue pages in a real browser (playwright-core + Debian's Chromium, with the pages'
 * strict CSP): the admin logs in with the keyboard, sees a queued message whose first attempt
 * failed (451 from a local SMTP sink), opens its attempt history, holds it and releases it.
 * Screenshots: test-output/screenshots/admin-queue-list.png, admin-queue-message.png,
 * admin-queue-held.png.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWebServer, ADMIN_PASSWORD } from './helpers/web.js';
import { launchBrowser, screenshot, recordDialogs, logInAdmin } from './helpers/browser.js';
import { startSink, closedPort } from '../smtp/client/testsink.js';

test('browser: admin sees a queued message with its attempt history, holds and releases it', async (t) => {
  // The browser first: without Chromium the test fails here, before anything is left running.
  const b = await launchBrowser();
  t.after(() => b.close());
  const now = Date.now();
  const sink = await startSink({ rcpt: () => '451 4.3.0 mailbox busy, try later' });
  t.after(() => sink.close());
  const refused = await closedPort();
  const ts = await startWebServer({
    clock: () => new Date(now),
    zone: { 'busy.example': { MX: [{ exchange: 'mx.busy.example', priority: 10 }] }, 'mx.busy.example': { A: ['127.0.0.1'] } } as never,
    delivery: { portFor: (host) => (host === 'mx.busy.example' ? sink.port : refused), connectTimeoutMs: 2000, commandTimeoutMs: 3000, dataTimeoutMs: 3000 },
  });
  t.after(() => ts.stop());
  const subject = 'Invoice <script>alert(1)</script> & co';
  const [m] = await ts.server.queue.add({
    account: 'mjl',
    mailFrom: { localpart: 'mjl', domain: 'example.com' },
    recipients: [{ localpart: 'bob', domain: 'busy.example' }],
    message: Buffer.from(`From: <mjl@example.com>\r\nTo: <bob@busy.example>\r\nSubject: invoice\r\n\r\nHello.\r\n`),
    subject,
  });
  ts.server.scheduler!.kick();
  await ts.server.scheduler!.idle();
  assert.equal(ts.server.queue.get(m!.id)!.attempts, 1);

  const { page } = await b.newPage();
  const dialogs = recordDialogs(page);
  await logInAdmin(page, ts.origin, ADMIN_PASSWORD, { byKeyboard: true });

  await page.getByRole('link', { name: 'Queue', exact: true }).click();
  await page.getByRole('heading', { name: 'Queue', exact: true }).waitFor();
  // The subject is text: the <script> in it is shown, not run.
  await page.getByRole('cell', { name: subject, exact: true }).waitFor();
  await page.getByRole('cell', { name: /451 4\.3\.0 mailbox busy/ }).waitFor();
  await screenshot(page, 'admin-queue-list');

  await page.getByRole('link', { name: String(m!.id), exact: true }).click();
  await page.getByRole('heading', { name: `Queued message ${m!.id}` }).waitFor();
  await page.getByRole('heading', { name: 'Delivery attempts' }).waitFor();
  await page.getByRole('cell', { name: 'mx.busy.example', exact: true }).waitFor();
  await page.getByRole('cell', { name: '4.3.0', exact: true }).waitFor();
  await screenshot(page, 'admin-queue-message');

  await page.getByRole('button', { name: 'Hold', exact: true }).click();
  await page.getByRole('status').filter({ hasText: `Message ${m!.id} held.` }).waitFor();
  assert.equal(ts.server.queue.get(m!.id)!.hold, true);
  await screenshot(page, 'admin-queue-held');

  // Released with the keyboard: focus the button and press Enter.
  await page.getByRole('button', { name: 'Release from hold' }).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('status').filter({ hasText: `Message ${m!.id} released from hold.` }).waitFor();
  assert.equal(ts.server.queue.get(m!.id)!.hold, false);
  assert.deepEqual(dialogs, [], 'no script ran (no alert)');
});
