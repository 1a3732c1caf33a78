/**
 * The control socket: how CLI commands reach a running server (as mox's `ctl`). A unix socket
 * `<DataDir>/ctl`, one JSON object per line each way:
 *   request  {"cmd": "setaccountpassword", "args": {...}}
 *   response {"ok": true, "result": ...} | {"ok": false, "error": "message"}
 * One request per connection keeps clients trivial. The server is the only writer of its
 * databases, so any command that changes data goes through here while the server runs.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log/logger.js';

export const CTL_SOCKET_NAME = 'ctl';

/** The control socket of the server using this data dir. */
export function ctlPath(dataDir: string): string {
  return join(dataDir, CTL_SOCKET_NAME);
}

/** A request line longer than this is refused: ctl requests are small commands, never message data. */
export const CTL_MAX_LINE = 1024 * 1024;

export type CtlHandler = (args: Record<string, unknown>) => Promise<unknown> | unknown;

/** Thrown by ctlCall when no server listens on the socket (not running). */
export class CtlUnavailableError extends Error {
  constructor(path: string, cause: unknown) {
    super(`no server listening on control socket ${path}`, { cause });
    this.name = 'CtlUnavailableError';
  }
}

function readLine(sock: Socket, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString('utf8');
      const i = buf.indexOf('\n');
      if (i >= 0) {
        cleanup();
        resolve(buf.slice(0, i));
      } else if (buf.length > max) {
        cleanup();
        reject(new Error('control request too long'));
      }
    };
    const onEnd = () => {
      cleanup();
      reject(new Error('connection closed before a full line'));
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    const cleanup = () => {
      sock.off('data', onData);
      sock.off('end', onEnd);
      sock.off('error', onError);
    };
    sock.on('data', onData);
    sock.on('end', onEnd);
    sock.on('error', onError);
  });
}

/** Is a server answering on this socket path? */
async function isListening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface CtlServer {
  close(): Promise<void>;
}

export async function startCtl(opts: { path: string; handlers: Record<string, CtlHandler>; log: Logger }): Promise<CtlServer> {
  const { path, handlers, log } = opts;
  if (await isListening(path)) throw new Error(`another server is already running (control socket ${path} answers)`);
  await unlink(path).catch(() => {}); // A stale socket from a crashed server.
  const server: Server = createServer((sock) => {
    sock.on('error', () => {});
    void (async () => {
      let reply: unknown;
      let cmd = '?';
      try {
        const line = await readLine(sock, CTL_MAX_LINE);
        const req = JSON.parse(line) as { cmd?: unknown; args?: unknown };
        if (typeof req.cmd !== 'string') throw new Error('missing "cmd"');
        cmd = req.cmd;
        const h = Object.hasOwn(handlers, cmd) ? handlers[cmd] : undefined;
        if (!h) throw new Error(`unknown command ${JSON.stringify(cmd)}`);
        const args = (req.args && typeof req.args === 'object' ? req.args : {}) as Record<string, unknown>;
        reply = { ok: true, result: (await h(args)) ?? null };
        log.info({ cmd }, 'ctl command');
      } catch (e) {
        log.info({ cmd, err: (e as Error).message }, 'ctl command failed');
        reply = { ok: false, error: (e as Error).message };
      }
      sock.end(JSON.stringify(reply) + '\n');
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        void unlink(path).catch(() => {});
      }),
  };
}

/** Send one command to the running server. Throws CtlUnavailableError when none is running. */
export async function ctlCall(path: string, cmd: string, args: Record<string, unknown> = {}): Promise<unknown> {
  const sock = connect(path);
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') reject(new CtlUnavailableError(path, e));
        else reject(e);
      });
    });
    sock.write(JSON.stringify({ cmd, args }) + '\n');
    const line = await readLine(sock, CTL_MAX_LINE);
    const res = JSON.parse(line) as { ok: boolean; result?: unknown; error?: string };
    if (!res.ok) throw new Error(res.error ?? 'control command failed');
    return res.result;
  } finally {
    sock.destroy();
  }
}
