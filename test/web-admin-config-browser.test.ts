/**
 * The admin config pages in a real browser (Chromium through playwright-core, no script on the
 * pages): the admin logs in, adds a domain and sees its DNS records and the live check, adds an
 * account with a password. Screenshots: test-output/screenshots/admin-domains.png,
 * admin-domain.png, admin-domain-check.png, admin-accounts.png, admin-account.png.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWebServer, ADMIN_PASSWORD } from './helpers/web.js';
import { launchBrowser, screenshot, logInAdmin } from './helpers/browser.js';

test('admin config pages in a browser: log in, add a domain, see its DNS records and check, add an account', async (t) => {
  const ts = await startWebServer();
  const b = await launchBrowser();
  t.after(async () => {
    await b.close();
    await ts.stop();
  });
  const { page } = await b.newPage({ viewport: { width: 1200, height: 900 } });
  const cspErrors: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text());
  });
  const nav = page.getByRole('navigation', { name: 'main' });

  await logInAdmin(page, ts.origin, ADMIN_PASSWORD);

  // Add a domain: the page of the new domain shows its DKIM selectors and DNS records.
  await nav.getByRole('link', { name: 'Domains' }).click();
  const add = page.getByRole('form', { name: 'Add a domain' });
  await add.getByLabel('Domain', { exact: true }).fill('example.org');
  await add.getByLabel('Account', { exact: true }).fill('orgadmin');
  await add.getByRole('button', { name: 'Add domain' }).click();
  await page.getByText('Domain example.org added.').waitFor();
  assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Domain example.org');
  const zone = await page.locator('pre').innerText();
  assert.match(zone, /example\.org\. 300 IN MX 10 mail\.example\.com\./);
  assert.match(zone, /_domainkey\.example\.org\. 300 IN TXT "v=DKIM1;k=ed25519;/);
  assert.match(zone, /_dmarc\.example\.org\. 300 IN TXT "v=DMARC1;p=reject;/);
  assert.ok(ts.server.dynamic().Domains['example.org']);
  await screenshot(page, 'admin-domain');

  // Publish the MX record; the live check says OK for it and missing for DMARC.
  ts.dns.set('example.org', { MX: [{ exchange: 'mail.example.com', priority: 10 }] });
  await page.getByRole('link', { name: 'Check what is published now' }).click();
  await page.getByRole('heading', { name: 'DNS check of example.org' }).waitFor();
  assert.equal(await page.getByRole('row').filter({ has: page.getByRole('cell', { name: 'MX', exact: true }) }).first().locator('strong').innerText(), 'OK');
  assert.equal(await page.getByRole('row').filter({ has: page.getByRole('cell', { name: 'DMARC', exact: true }) }).locator('strong').innerText(), 'missing');
  await screenshot(page, 'admin-domain-check');

  await nav.getByRole('link', { name: 'Domains' }).click();
  await page.getByRole('link', { name: 'example.org' }).waitFor();
  await screenshot(page, 'admin-domains');

  // Add an account and set its password.
  await nav.getByRole('link', { name: 'Accounts' }).click();
  const addAcc = page.getByRole('form', { name: 'Add an account' });
  await addAcc.getByLabel('Account name').fill('alice');
  await addAcc.getByLabel('First email address').fill('alice@example.org');
  await addAcc.getByRole('button', { name: 'Add account' }).click();
  await page.getByText('Account alice added.').waitFor();
  const pw = page.getByRole('form', { name: 'Set the password' });
  await pw.getByLabel('New password').fill('alice-password-1');
  await pw.getByRole('button', { name: 'Set password' }).click();
  await page.getByText('Password of alice set.').waitFor();
  await screenshot(page, 'admin-account');
  assert.equal((await ts.account().login('alice-password-1', 'alice@example.org')).status, 303);

  await nav.getByRole('link', { name: 'Accounts' }).click();
  await page.getByRole('link', { name: 'alice' }).waitFor();
  assert.match(await page.locator('main table').innerText(), /alice@example\.org/);
  await screenshot(page, 'admin-accounts');
  assert.deepEqual(cspErrors, []);
});
