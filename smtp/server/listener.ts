/**
 * SMTP listeners: a TCP (or implicit-TLS) server per configured IP and port, per-IP-class
 * connection rate and concurrency limits (421 4.7.0 when exceeded, mox §9.2), and a clean
 * shutdown that tells connected clients 421 4.3.2.
 */
import type { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import { listenStream } from '../../config/tls.js';
import type { Logger } from '../../log/logger.js';
import { newCid } from '../../log/logger.js';
import type { Metrics } from '../../metrics/registry.js';
import type { RateLimiter, ConcurrencyLimiter } from '../../auth/ratelimit.js';
import { C, E, SmtpError } from '../codes.js';
import { SmtpSession, normalizeIP, type SessionPolicy } from './session.js';

export interface SmtpListenerSpec {
  ip: string;
  port: number;
  hostname: string;
  policy: SessionPolicy;
  /** Certificate for STARTTLS, or for the whole connection when implicitTLS. */
  tlsContext?: SecureContext;
  /** With implicitTLS: the certificate for a client's SNI name (default: tlsContext). */
  sni?: (servername: string) => SecureContext;
  implicitTLS?: boolean;
}

export interface SmtpListenerDeps {
  log: Logger;
  metrics: Metrics;
  /** Connections per minute per IP class (mox: 300/900/2700). */
  connectionRate: RateLimiter;
  /** Concurrent connections per IP class (mox: 30/90/270). */
  concurrency: ConcurrencyLimiter;
  tmpDir: string;
  commandTimeoutMs?: number;
}

export interface SmtpListener {
  /** The address actually bound (port 0 becomes the OS-chosen port). */
  readonly address: { ip: string; port: number };
  readonly service: string;
  close(): Promise<void>;
}

export async function startSmtpListener(spec: SmtpListenerSpec, deps: SmtpListenerDeps): Promise<SmtpListener> {
  const service = spec.policy.service;
  const log = deps.log.child({ proto: service });
  const sockets = new Set<Socket>();
  const sessions = new Set<SmtpSession>();

  const onConnection = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const ip = normalizeIP(socket.remoteAddress ?? '');
    const cid = newCid();
    const clog = log.child({ cid, remote: ip });
    let refusal: SmtpError | undefined;
    let release: (() => void) | undefined;
    if (!deps.connectionRate.add(ip)) {
      refusal = new SmtpError(C.ServiceNotAvailable, E.SecOther, 'too many connections from your network, try again later');
      deps.metrics.smtpConnections.inc({ service, result: 'ratelimited' });
    } else if (!(release = deps.concurrency.acquire(ip))) {
      refusal = new SmtpError(C.ServiceNotAvailable, E.SecOther, 'too many concurrent connections from your network');
      deps.metrics.smtpConnections.inc({ service, result: 'toomany' });
    } else {
      deps.metrics.smtpConnections.inc({ service, result: 'accepted' });
      deps.metrics.smtpSessions.inc({ service });
    }
    clog.debug({ refused: refusal?.message }, 'connection');
    const session = new SmtpSession({
      socket,
      cid,
      log: clog,
      hostname: spec.hostname,
      policy: spec.policy,
      tlsContext: spec.implicitTLS ? undefined : spec.tlsContext,
      implicitTLS: spec.implicitTLS,
      tmpDir: deps.tmpDir,
      commandTimeoutMs: deps.commandTimeoutMs,
      onClose: () => {
        sessions.delete(session);
        if (release) {
          release();
          deps.metrics.smtpSessions.dec({ service });
        }
      },
    });
    sessions.add(session);
    session.start(refusal);
  };

  if (spec.implicitTLS && !spec.tlsContext) throw new Error(`${service} on ${spec.ip}:${spec.port} needs a TLS certificate`);
  const { server, address: addr } = await listenStream({
    name: service,
    ip: spec.ip,
    port: spec.port,
    tls: spec.implicitTLS ? { context: spec.tlsContext!, sni: spec.sni } : undefined,
    onConnection,
    log,
  });
  log.info({ ip: addr.ip, port: addr.port }, 'listening');
  return {
    address: addr,
    service,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) {
        // rfc5321:3.8 tell clients we are going away; their transactions were not acknowledged.
        if (!s.destroyed) s.end('421 4.3.2 server shutting down\r\n');
        setTimeout(() => s.destroy(), 1000).unref();
      }
      await closed;
    },
  };
}
