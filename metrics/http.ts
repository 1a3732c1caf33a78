/**
 * The MetricsHTTP listener: `GET /metrics` in the Prometheus text format; anything else 404.
 * Only meant for an internal listener (no authentication, as mox).
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { Metrics } from './registry.js';
import type { Logger } from '../log/logger.js';

export interface MetricsListener {
  readonly address: { ip: string; port: number };
  close(): Promise<void>;
}

export async function startMetricsListener(opts: { ip: string; port: number; metrics: Metrics; log: Logger }): Promise<MetricsListener> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found; metrics are at /metrics\n');
      return;
    }
    opts.metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': opts.metrics.registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
      (err: Error) => {
        opts.log.error({ err }, 'rendering metrics');
        res.writeHead(500).end();
      },
    );
  });
  server.listen(opts.port, opts.ip);
  await Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([e]) => {
      throw new Error(`metrics: cannot listen on ${opts.ip}:${opts.port}: ${(e as Error).message}`);
    }),
  ]);
  const a = server.address() as { address: string; port: number };
  opts.log.info({ ip: a.address, port: a.port }, 'metrics listening');
  return {
    address: { ip: a.address, port: a.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
