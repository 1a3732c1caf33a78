/**
 * Browser tests: playwright-core driving Debian's Chromium (installed by .ci/run; path from
 * $MOXTS_CHROMIUM, default /usr/bin/chromium). No browser download: playwright-core only speaks
 * the DevTools protocol to the binary we give it. A missing Chromium fails the test with a clear
 * message (CI installs it), it never skips. Screenshots go to test-output/screenshots/<name>.png
 * (the folder is ignored by git; CI keeps it as the run's artefact).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.MOXTS_CHROMIUM ?? '/usr/bin/chromium';
/** <repo>/test-output/screenshots (this file is dist/test/helpers/browser.js once built). */
export const SCREENSHOT_DIR = fileURLToPath(new URL('../../../test-output/screenshots/', import.meta.url));

export interface TestBrowser {
  browser: Browser;
  /** A fresh context (own cookies) with a page; closed with the browser. */
  newPage(o?: { viewport?: { width: number; height: number } }): Promise<{ context: BrowserContext; page: Page }>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: install Debian's "chromium" package (.ci/run does) or set MOXTS_CHROMIUM`);
  }
  const args = process.getuid?.() === 0 ? ['--no-sandbox'] : [];
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args });
  const contexts: BrowserContext[] = [];
  return {
    browser,
    async newPage(o = {}) {
      const context = await browser.newContext({ viewport: o.viewport ?? { width: 1200, height: 800 } });
      contexts.push(context);
      context.setDefaultTimeout(15_000);
      return { context, page: await context.newPage() };
    },
    async close() {
      for (const c of contexts) await c.close().catch(() => {});
      await browser.close();
    },
  };
}

/** Write a full-page PNG to test-output/screenshots/<name>.png; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Messages of the page's dialogs (confirm() of a destructive action), each dismissed. */
export function recordDialogs(page: Page): string[] {
  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  return dialogs;
}

/**
 * Log in to the admin pages at `origin` with `password` (submitted with the button, or with Enter
 * when `byKeyboard`); resolves on the Overview page.
 */
export async function logInAdmin(page: Page, origin: string, password: string, opts: { byKeyboard?: boolean } = {}): Promise<void> {
  await page.goto(`${origin}/admin/`);
  await page.getByLabel('Password').fill(password);
  if (opts.byKeyboard) await page.keyboard.press('Enter');
  else await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Overview', exact: true }).waitFor();
}
