/** The browser test harness works: Chromium opens a local page, a click changes it, a screenshot is written. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { statSync } from 'node:fs';
import { launchBrowser, screenshot } from './helpers/browser.js';

test('browser harness: chromium loads a page from 127.0.0.1, a form post changes it, screenshot written', async (t) => {
  let posts = 0;
  const server = createServer((req, res) => {
    if (req.method === 'POST') posts++;
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>harness</title><form method="post"><button type="submit">Press</button></form><p id="n">${posts}</p>`);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  // Clean-up registered as each resource exists: when launching fails (no Chromium) the test
  // fails at once instead of hanging on the open server.
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const b = await launchBrowser();
  t.after(() => b.close());
  const { page } = await b.newPage();
  await page.goto(`http://127.0.0.1:${(server.address() as { port: number }).port}/`);
  assert.equal(await page.textContent('#n'), '0');
  await page.getByRole('button', { name: 'Press' }).click();
  await page.locator('#n', { hasText: '1' }).waitFor();
  assert.equal(posts, 1);
  const file = await screenshot(page, 'harness');
  assert.ok(statSync(file).size > 100);
});
