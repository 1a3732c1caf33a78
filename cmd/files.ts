/**
 * Small file helpers for commands that write configuration: atomic, durable writes (temp file,
 * fsync, rename, directory fsync) and refusing to overwrite what exists.
 */
import { promises as fsp, constants as fsc } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { randomBytes } from 'node:crypto';

export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const dir = dirname(path);
  await fsp.mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await fsp.open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fsp.rename(tmp, path);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  const dh = await fsp.open(dir, fsc.O_RDONLY);
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

export async function exists(path: string): Promise<boolean> {
  return fsp.access(path).then(
    () => true,
    () => false,
  );
}

/** Read a password: from a TTY prompt (twice, no echo) or the first line of stdin. */
export async function readPassword(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    let data = '';
    for await (const chunk of stdin) {
      data += String(chunk);
      if (data.includes('\n')) break;
    }
    const pw = data.split(/\r?\n/)[0] ?? '';
    if (!pw) throw new Error('empty password on stdin');
    return pw;
  }
  const ask = (q: string) =>
    new Promise<string>((resolve) => {
      process.stderr.write(q);
      stdin.setRawMode(true);
      stdin.resume();
      let buf = '';
      const onData = (d: Buffer) => {
        for (const ch of d.toString('utf8')) {
          if (ch === '\r' || ch === '\n') {
            stdin.off('data', onData);
            stdin.setRawMode(false);
            stdin.pause();
            process.stderr.write('\n');
            resolve(buf);
            return;
          }
          if (ch === '\u0003') process.exit(130); // Ctrl-C
          if (ch === '\u007f') buf = buf.slice(0, -1);
          else buf += ch;
        }
      };
      stdin.on('data', onData);
    });
  const a = await ask(prompt);
  const b = await ask('repeat: ');
  if (a !== b) throw new Error('passwords do not match');
  if (!a) throw new Error('empty password');
  return a;
}
