import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, copyFileSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../log/logger.js';
import { loadConfig } from './load.js';
import { watchDynamic } from './reload.js';
import { writeFileAtomic } from './atomic.js';
import type { DynamicConfig } from './dynamic-schema.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** A queue of callback events that tests can wait on (no fixed sleeps). */
function events<T>() {
  const queued: T[] = [];
  const waiters: ((v: T) => void)[] = [];
  return {
    push(v: T) {
      const w = waiters.shift();
      if (w) w(v);
      else queued.push(v);
    },
    /** The next event; fails after 10 s (the pending timer also keeps the event loop alive, as the watcher does not). */
    next(): Promise<T> {
      const v = queued.shift();
      if (v !== undefined) return Promise.resolve(v);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('timeout waiting for watcher event')), 10_000);
        waiters.push((v) => {
          clearTimeout(timer);
          resolve(v);
        });
      });
    },
    get pending() {
      return queued.length;
    },
  };
}

test('reload: a broken change keeps the old config and logs why; a good change is picked up', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'moxts-reload-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(join(repoRoot, 'mox.conf.example'), join(dir, 'mox.conf'));
  copyFileSync(join(repoRoot, 'domains.conf.example'), join(dir, 'domains.conf'));
  const cfg = await loadConfig(join(dir, 'mox.conf'));
  const logLines: string[] = [];
  const log = createLogger({ level: 'info', destination: { write: (s: string) => void logLines.push(s) } });
  const changes = events<DynamicConfig>();
  const errors = events<Error>();
  const w = await watchDynamic({
    path: cfg.dynamicPath,
    static: cfg.static,
    log,
    initial: cfg.dynamic,
    debounceMs: 20,
    onChange: (next) => changes.push(next),
    onError: (e) => errors.push(e),
  });
  t.after(() => w.close());
  const orig = readFileSync(cfg.dynamicPath, 'utf8');
  assert.equal(w.current(), cfg.dynamic);

  // Broken: an unknown key. Written in place (not atomically), like an editor might.
  writeFileSync(cfg.dynamicPath, orig.replace('    FullName: Mechiel', '    FullName: Mechiel\n    Fullname: typo'));
  const err = await errors.next();
  assert.match(err.message, /domains\.conf:\d+: Accounts\.mjl\.Fullname: unknown key/);
  assert.equal(w.current(), cfg.dynamic, 'old config kept');
  assert.ok(logLines.some((l) => l.includes('keeping current config') && l.includes('Fullname: unknown key')), logLines.join(''));

  // Explicit reload (SIGHUP) of the same broken content reports the error again.
  const r1 = await w.reload();
  assert.equal(r1.status, 'error');
  assert.equal(r1.config, cfg.dynamic);

  // Good change, replaced atomically (rename) as write.ts does.
  await writeFileAtomic(cfg.dynamicPath, orig.replace('FullName: Mechiel', 'FullName: Mechiel Lukkien'));
  const next = await changes.next();
  assert.equal(next.Accounts.mjl!.FullName, 'Mechiel Lukkien');
  assert.equal(w.current(), next);

  // Same content again: no change.
  const r2 = await w.reload();
  assert.equal(r2.status, 'unchanged');
  assert.equal(r2.config, next);

  // Explicit reload picks up a change without the watcher (closed here so a late watch event cannot race).
  w.close();
  writeFileSync(cfg.dynamicPath, orig);
  const r3 = await w.reload();
  assert.equal(r3.status, 'changed');
  assert.equal(w.current().Accounts.mjl!.FullName, 'Mechiel');
});

test('reload: a missing file is an error, the old config stays', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'moxts-reload-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(join(repoRoot, 'mox.conf.example'), join(dir, 'mox.conf'));
  copyFileSync(join(repoRoot, 'domains.conf.example'), join(dir, 'domains.conf'));
  const cfg = await loadConfig(join(dir, 'mox.conf'));
  const errors = events<Error>();
  const { nullLogger } = await import('../log/logger.js');
  const w = await watchDynamic({ path: cfg.dynamicPath, static: cfg.static, log: nullLogger(), onError: (e) => errors.push(e) });
  t.after(() => w.close());
  const first = w.current();
  rmSync(cfg.dynamicPath);
  const err = await errors.next();
  assert.match(err.message, /ENOENT/);
  assert.equal(w.current(), first);
});

test('reload: a change made between loading and watching is picked up', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'moxts-reload-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(join(repoRoot, 'mox.conf.example'), join(dir, 'mox.conf'));
  copyFileSync(join(repoRoot, 'domains.conf.example'), join(dir, 'domains.conf'));
  const cfg = await loadConfig(join(dir, 'mox.conf'));
  writeFileSync(cfg.dynamicPath, readFileSync(cfg.dynamicPath, 'utf8').replace('FullName: Mechiel', 'FullName: Changed'));
  const { nullLogger } = await import('../log/logger.js');
  const w = await watchDynamic({ path: cfg.dynamicPath, static: cfg.static, log: nullLogger(), initial: cfg.dynamic });
  w.close();
  assert.equal(w.current(), cfg.dynamic);
  const r = await w.reload();
  assert.equal(r.status, 'changed');
  assert.equal(w.current().Accounts.mjl!.FullName, 'Changed');
});
