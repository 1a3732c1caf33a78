/**
 * Data directory layout (DESIGN §4):
 *
 *   <dataDir>/tmp/                              temp files; swept at startup (never acknowledged)
 *   <dataDir>/accounts/<name>/index.db          account database (mailboxes, messages, modseq, …)
 *   <dataDir>/accounts/<name>/msg/<dir>/<id>    message files
 *
 * Message files are spread over directories like mox: `<dir>` is id >> 13 written in a 64-char
 * alphabet, so each directory holds at most 8192 files and concurrent deliveries land in the same
 * directory (their directory fsyncs can then be shared).
 */
import { join } from 'node:path';

/** Messages per message directory (mox uses 8192 as well). */
export const MSG_DIR_SHIFT = 13;
const DIR_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_';

export function tmpDir(dataDir: string): string {
  return join(dataDir, 'tmp');
}

export function accountsDir(dataDir: string): string {
  return join(dataDir, 'accounts');
}

/** Throws for account names that could escape the accounts directory. */
export function checkAccountName(name: string): void {
  if (!name || name === '.' || name === '..' || /[/\\\0]/.test(name) || name.length > 255) {
    throw new Error(`invalid account name ${JSON.stringify(name)}`);
  }
}

export function accountDir(dataDir: string, account: string): string {
  checkAccountName(account);
  return join(accountsDir(dataDir), account);
}

export function accountDbPath(dataDir: string, account: string): string {
  return join(accountDir(dataDir, account), 'index.db');
}

export function messagesDir(dataDir: string, account: string): string {
  return join(accountDir(dataDir, account), 'msg');
}

/** Directory name (relative to msg/) for a message id. */
export function messageDirName(id: number): string {
  let v = Math.floor(id / 2 ** MSG_DIR_SHIFT);
  let s = '';
  do {
    s = DIR_ALPHABET[v % 64]! + s;
    v = Math.floor(v / 64);
  } while (v > 0);
  return s;
}

/** `<dir>/<id>`, relative to the account's msg/ directory. */
export function messageRelPath(id: number): string {
  return join(messageDirName(id), String(id));
}

export function messagePath(dataDir: string, account: string, id: number): string {
  return join(messagesDir(dataDir, account), messageRelPath(id));
}
