/**
 * The admin's suppression list page in Chromium: an entry added by a permanent failure (its
 * reason containing markup, shown as text) is listed for its account, the admin adds one with the
 * form and removes it again. Screenshot: test-output/screenshots/admin-suppressions.png.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWebServer, ADMIN_PASSWORD } from './helpers/web.js';
import { launchBrowser, screenshot, recordDialogs, logInAdmin } from './helpers/browser.js';

test('browser: admin views, adds to and removes from a suppression list', async (t) => {
  const b = await launchBrowser();
  t.after(() => b.close());
  const ts = await startWebServer();
  t.after(() => ts.stop());
  ts.server.queue.addSuppression('mjl', 'bounced@remote.example', { manual: false, reason: '550 5.1.1 <b>no such user</b>' });

  const { page } = await b.newPage();
  const dialogs = recordDialogs(page);
  await logInAdmin(page, ts.origin, ADMIN_PASSWORD);

  await page.getByRole('navigation', { name: 'main' }).getByRole('link', { name: 'Suppressions' }).click();
  await page.getByRole('heading', { name: 'Suppression lists' }).waitFor();
  const row = page.getByRole('row').filter({ hasText: 'bounced@remote.example' });
  assert.match(await row.innerText(), /mjl/);
  // The reason is shown as text, markup and all.
  assert.match(await row.innerText(), /550 5\.1\.1 <b>no such user<\/b>/);
  assert.equal(await page.locator('main table b').count(), 0);

  const add = page.getByRole('form', { name: 'Add a suppression' });
  await add.getByLabel('Email address').fill('manual@remote.example');
  await add.getByRole('button', { name: 'Add to suppression list' }).click();
  await page.getByText('manual@remote.example added to the suppression list of mjl.').waitFor();
  assert.ok(ts.server.queue.lookupSuppression('mjl', 'manual@remote.example'));
  await screenshot(page, 'admin-suppressions');

  await page.getByRole('row').filter({ hasText: 'manual@remote.example' }).getByRole('button', { name: 'Remove' }).click();
  await page.getByText('manual@remote.example removed from the suppression list of mjl.').waitFor();
  assert.equal(ts.server.queue.lookupSuppression('mjl', 'manual@remote.example'), undefined);
  assert.deepEqual(dialogs, []);
});
