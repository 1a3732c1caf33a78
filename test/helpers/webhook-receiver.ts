/**
 * A real HTTP receiver for webhook tests: node:http on 127.0.0.1 port 0. Records every request
 * (headers, raw body) and answers with what `respond` says (default 200 "ok").
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface Reply {
  status?: number;
  body?: string;
  headers?: Record<string, string>;
  /** Wait this long (real ms) before answering. */
  delayMs?: number;
}

export class WebhookReceiver {
  readonly requests: Received[] = [];
  respond: (r: Received, n: number) => Reply = () => ({});
  private waiters: Array<{ n: number; resolve: () => void }> = [];
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<WebhookReceiver> {
    let self!: WebhookReceiver;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const r: Received = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
        self.requests.push(r);
        const reply = self.respond(r, self.requests.length);
        const send = () => {
          res.writeHead(reply.status ?? 200, { 'content-type': 'text/plain', ...reply.headers });
          res.end(reply.body ?? 'ok');
          for (const w of self.waiters.filter((w) => self.requests.length >= w.n)) {
            self.waiters.splice(self.waiters.indexOf(w), 1);
            w.resolve();
          }
        };
        if (reply.delayMs) setTimeout(send, reply.delayMs);
        else send();
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    self = new WebhookReceiver(server, `http://127.0.0.1:${port}`);
    return self;
  }

  /** Resolves once `n` requests in total have been answered. */
  waitFor(n: number): Promise<void> {
    if (this.requests.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close').catch(() => {});
  }
}
