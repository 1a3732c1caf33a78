/**
 * Pieces shared by the crash tests (test/*-crash.test.ts): a server in a child process that
 * prints "READY <port>", and a minimal SMTP client that keeps working until the connection dies
 * (SIGKILL of the child), then rejects every pending reply.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Socket } from 'node:net';

/** Start `script` with `args`; resolves with the port of its "READY <port>" line. */
export function startChild(script: string, args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const m = /^READY (\d+)$/.exec(l);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.once('exit', (code, sig) => reject(new Error(`server child exited early: ${code ?? sig}`)));
  });
}

/** SMTP client resolving each final reply line; rejects everything once the connection dies. */
export class CrashClient {
  private buf = '';
  private waiters: Array<{ resolve: (l: string) => void; reject: (e: Error) => void }> = [];
  private dead = false;
  constructor(private readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      let i;
      while ((i = this.buf.indexOf('\r\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 2);
        if (/^\d{3} /.test(line)) this.waiters.shift()?.resolve(line);
      }
    });
    const die = () => {
      this.dead = true;
      for (const w of this.waiters.splice(0)) w.reject(new Error('connection lost'));
    };
    sock.on('close', die);
    sock.on('error', die);
  }
  reply(): Promise<string> {
    if (this.dead) return Promise.reject(new Error('connection lost'));
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }
  send(s: string): void {
    if (!this.dead) this.sock.write(s);
  }
}
