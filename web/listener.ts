/**
 * Web listeners: one node:http (or https) server per listener IP and port, shared by the HTTP
 * services configured on it (webapi, admin, account; mox.conf `WebAPIHTTP`, `AdminHTTP`, ...),
 * which are told apart by their path prefix (longest prefix wins, like mox's handler order).
 * A request to a service's path without its trailing slash is redirected to it. The listener
 * catches every error a service throws: HttpError → its status and message, anything else → 500
 * (logged). Slow clients are bounded by header and request timeouts.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { isIP } from 'node:net';
import type { Server as NetServer } from 'node:net';
import { implicitTlsServer, listenOn } from '../config/tls.js';
import type { ListenerTLS } from '../config/tls.js';
import type { Logger } from '../log/logger.js';
import { HttpError } from './errors.js';
import { redirect, sendText } from './respond.js';

/** What a service handler gets besides the request and response. */
export interface RequestContext {
  /** Client IP (from X-Forwarded-For when the service trusts it). */
  ip: string;
  /** The service's path prefix, e.g. "/webapi/". */
  base: string;
  /** Path below the prefix, without query, e.g. "v0/Send". */
  subpath: string;
  /** Whether the request came over TLS (or, when forwarded, X-Forwarded-Proto https). */
  secure: boolean;
  log: Logger;
}

export type ServiceHandler = (req: IncomingMessage, res: ServerResponse, ctx: RequestContext) => void | Promise<void>;

export interface WebService {
  /** Name for logs and the services list, e.g. "webapi". */
  name: string;
  /** Path prefix; must start and end with "/". */
  path: string;
  /** Trust X-Forwarded-For / X-Forwarded-Proto (behind a reverse proxy). */
  forwarded?: boolean;
  handler: ServiceHandler;
}

export interface WebListener {
  readonly address: { ip: string; port: number };
  close(): Promise<void>;
}

/** Time allowed for the request headers (slowloris) and for a whole request including its body. */
export const HEADERS_TIMEOUT_MS = 60_000;
export const REQUEST_TIMEOUT_MS = 10 * 60_000;

/** Client IP: the socket's peer, or with `forwarded` the last X-Forwarded-For entry added by the proxy. */
export function clientIP(req: IncomingMessage, forwarded: boolean): string {
  if (forwarded) {
    const xff = req.headers['x-forwarded-for'];
    const list = (Array.isArray(xff) ? xff.join(',') : (xff ?? '')).split(',').map((s) => s.trim()).filter(Boolean);
    const last = list[list.length - 1];
    if (last && isIP(last)) return last;
  }
  const ip = req.socket.remoteAddress ?? '';
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

function pathOf(url: string | undefined): string {
  const u = url ?? '/';
  const q = u.indexOf('?');
  return q < 0 ? u : u.slice(0, q);
}

/** Choose the service for a path: longest prefix; also the prefix without its trailing slash. */
export function matchService(services: readonly WebService[], path: string): { service: WebService; exact: boolean } | undefined {
  let best: WebService | undefined;
  let exact = false;
  for (const s of services) {
    if (path.startsWith(s.path)) {
      if (!best || s.path.length > best.path.length) {
        best = s;
        exact = false;
      }
    } else if (path === s.path.slice(0, -1) && (!best || s.path.length > best.path.length)) {
      best = s;
      exact = true;
    }
  }
  return best ? { service: best, exact } : undefined;
}

export async function startWebListener(opts: {
  ip: string;
  port: number;
  tls?: ListenerTLS;
  services: readonly WebService[];
  log: Logger;
}): Promise<WebListener> {
  const { log } = opts;
  // One child logger per service, made once: a pino child per request cost more than routing it.
  const serviceLogs = new Map(opts.services.map((s) => [s, log.child({ service: s.name })]));
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const path = pathOf(req.url);
    const m = matchService(opts.services, path);
    if (!m) {
      sendText(res, 404, 'not found');
      return;
    }
    if (m.exact) {
      redirect(res, 308, m.service.path);
      return;
    }
    const forwarded = !!m.service.forwarded;
    const proto = req.headers['x-forwarded-proto'];
    const ctx: RequestContext = {
      ip: clientIP(req, forwarded),
      base: m.service.path,
      subpath: path.slice(m.service.path.length),
      secure: forwarded && typeof proto === 'string' ? proto.toLowerCase() === 'https' : !!opts.tls,
      log: serviceLogs.get(m.service) ?? log.child({ service: m.service.name }),
    };
    const fail = (err: unknown) => {
      if (res.headersSent) {
        ctx.log.warn({ err }, 'error after response started');
        res.destroy();
        return;
      }
      if (err instanceof HttpError) {
        sendText(res, err.status, `${err.status} - ${err.message}`, err.headers);
        if (err.headers['Connection'] === 'close') res.once('finish', () => req.socket.destroy());
        return;
      }
      ctx.log.error({ err, path }, 'unhandled error in web handler');
      sendText(res, 500, '500 - internal server error');
    };
    try {
      const r = m.service.handler(req, res, ctx);
      if (r && typeof (r as Promise<void>).then === 'function') (r as Promise<void>).catch(fail);
    } catch (err) {
      fail(err);
    }
  };
  const server: Server = createHttpServer(onRequest);
  // HTTPS: TLS is done by implicitTlsServer (a client without SNI gets the default certificate),
  // and each secured socket is handed to the HTTP server as a connection.
  const tcp: NetServer | undefined = opts.tls
    ? implicitTlsServer({
        context: opts.tls.context,
        sni: opts.tls.sni,
        onSecure: (socket) => server.emit('connection', socket),
        onError: (err) => log.debug({ err: err.message }, 'tls handshake failed'),
      })
    : undefined;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  const listening: NetServer = tcp ?? server;
  const a = await listenOn(listening, 'http', opts.ip, opts.port);
  log.info({ ip: a.ip, port: a.port, tls: !!opts.tls, services: opts.services.map((s) => `${s.name} ${s.path}`) }, 'http listening');
  return {
    address: a,
    close: () =>
      new Promise<void>((resolve) => {
        if (tcp) {
          tcp.close(() => resolve());
          server.close();
        } else server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
