/**
 * Live reloading of domains.conf: on a change of the file (fs.watch on its directory, so
 * atomic replacement by rename is seen too; debounced; only when the content hash changed) and
 * on an explicit reload() (the server wires SIGHUP to it). A reload with errors keeps the
 * current config, logs why, and reports the error (result and onError).
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { createHash } from 'node:crypto';
import type { Logger } from '../log/logger.js';
import type { StaticConfig } from './static-schema.js';
import type { DynamicConfig } from './dynamic-schema.js';
import { parseDynamic, sourceOf } from './load.js';

/** Editors and tools write files in several steps; wait this long after the last event before reading. */
export const DEFAULT_RELOAD_DEBOUNCE_MS = 150;

export interface WatchDynamicOptions {
  path: string;
  static: StaticConfig;
  log: Logger;
  /** Called after a successful reload that changed the config. */
  onChange?: (next: DynamicConfig, prev: DynamicConfig) => void;
  /** Called when a reload failed; the previous config stays current. */
  onError?: (err: Error) => void;
  /** The config already loaded from `path`; when absent it is loaded now (and errors are thrown). */
  initial?: DynamicConfig;
  debounceMs?: number;
}

export type ReloadResult =
  | { status: 'changed'; config: DynamicConfig }
  | { status: 'unchanged'; config: DynamicConfig }
  /** `config` is the still-current previous config. */
  | { status: 'error'; error: Error; config: DynamicConfig };

export interface DynamicWatcher {
  /** The config in effect. */
  current(): DynamicConfig;
  /** Re-read the file now. Never rejects: errors are in the result. */
  reload(): Promise<ReloadResult>;
  /** Stop watching. */
  close(): void;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export async function watchDynamic(opts: WatchDynamicOptions): Promise<DynamicWatcher> {
  const { path, log } = opts;
  const debounceMs = opts.debounceMs ?? DEFAULT_RELOAD_DEBOUNCE_MS;
  const text = await readFile(path, 'utf8');
  let current = opts.initial ?? parseDynamic(text, path, opts.static);
  // Hash what the current config was loaded from, so a change made since is still picked up.
  let currentHash = sha256((opts.initial && sourceOf(opts.initial)?.text) ?? text);
  let failedHash: string | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<ReloadResult> = Promise.resolve({ status: 'unchanged', config: current });

  async function doReload(quietRepeat: boolean): Promise<ReloadResult> {
    let content: string;
    try {
      content = await readFile(path, 'utf8');
    } catch (e) {
      const error = e as Error;
      log.error({ err: error.message, path }, 'reading domains.conf failed, keeping current config');
      opts.onError?.(error);
      return { status: 'error', error, config: current };
    }
    const hash = sha256(content);
    if (hash === currentHash) {
      failedHash = undefined;
      return { status: 'unchanged', config: current };
    }
    let next: DynamicConfig;
    try {
      next = parseDynamic(content, path, opts.static);
    } catch (e) {
      const error = e as Error;
      // A watch event for content that already failed (e.g. a touch) need not be reported again.
      if (!(quietRepeat && hash === failedHash)) {
        log.error({ err: error.message, path }, 'domains.conf has errors, keeping current config');
        opts.onError?.(error);
      }
      failedHash = hash;
      return { status: 'error', error, config: current };
    }
    const prev = current;
    current = next;
    currentHash = hash;
    failedHash = undefined;
    log.info({ path }, 'domains.conf reloaded');
    try {
      opts.onChange?.(next, prev);
    } catch (e) {
      log.error({ err: (e as Error).message }, 'domains.conf onChange handler failed');
    }
    return { status: 'changed', config: next };
  }

  function reload(quietRepeat = false): Promise<ReloadResult> {
    running = running.then(
      () => doReload(quietRepeat),
      () => doReload(quietRepeat),
    );
    return running;
  }

  const name = basename(path);
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(path), { persistent: false }, (_event, filename) => {
      if (closed || (filename !== null && filename !== name)) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (!closed) void reload(true);
      }, debounceMs);
    });
    watcher.on('error', (e) => log.error({ err: e.message, path }, 'watching domains.conf failed; reload with SIGHUP'));
  } catch (e) {
    log.error({ err: (e as Error).message, path }, 'cannot watch domains.conf; reload with SIGHUP');
  }

  return {
    current: () => current,
    reload: () => reload(false),
    close() {
      closed = true;
      clearTimeout(timer);
      watcher?.close();
    },
  };
}
