/**
 * IMAP listeners: port 143 (plain, STARTTLS; LOGINDISABLED before TLS unless the listener allows
 * plaintext logins) and 993 (implicit TLS). Per-IP-class connection rate and concurrency limits
 * (mox §9.2: 300/900/2700 per minute, 30/90/270 at once) and refusal of clients over the
 * failed-login limit (mox: IMAP refuses the connection). Shutdown says BYE to connected clients.
 */
import type { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import { listenStream } from '../config/tls.js';
import { newCid } from '../log/logger.js';
import type { RateLimiter, ConcurrencyLimiter } from '../auth/ratelimit.js';
import { Session, normalizeIP, type ImapConfig } from './session.js';

export interface ImapListenerSpec {
  ip: string;
  port: number;
  /** 'imap' (143) or 'imaps' (993). */
  service: 'imap' | 'imaps';
  tlsContext?: SecureContext;
  /** For SNI with several certificates. */
  sni?: (servername: string) => SecureContext;
}

export interface ImapListenerDeps extends Omit<ImapConfig, 'tlsContext' | 'implicitTLS'> {
  connectionRate?: RateLimiter;
  concurrency?: ConcurrencyLimiter;
}

export interface ImapListener {
  readonly address: { ip: string; port: number };
  readonly service: string;
  /** Open sessions (tests). */
  readonly sessionCount: number;
  close(): Promise<void>;
}

export async function startImapListener(spec: ImapListenerSpec, deps: ImapListenerDeps): Promise<ImapListener> {
  const log = deps.log.child({ proto: spec.service });
  const sessions = new Set<Session>();
  const implicitTLS = spec.service === 'imaps';
  const cfg: ImapConfig = { ...deps, log, tlsContext: implicitTLS ? undefined : spec.tlsContext, implicitTLS };

  const onConnection = (socket: Socket) => {
    const ip = normalizeIP(socket.remoteAddress ?? '');
    const cid = newCid();
    const clog = log.child({ cid, remote: ip });
    let refusal: string | undefined;
    let release: (() => void) | undefined;
    if (deps.connectionRate && !deps.connectionRate.add(ip)) refusal = 'too many connections from your network, try again later';
    else if (deps.concurrency && !(release = deps.concurrency.acquire(ip))) refusal = 'too many concurrent connections from your network';
    else if ('ratelimited' in deps.loginGuard.checkLogin(ip)) refusal = 'too many authentication failures, try again later';
    deps.metrics?.imapConnections?.inc({ service: spec.service, result: refusal ? 'refused' : 'accepted' });
    clog.debug({ refused: refusal }, 'connection');
    const session = new Session(cfg, socket, cid, clog, () => {
      if (sessions.delete(session)) deps.metrics?.imapSessions.dec({ service: spec.service });
      release?.();
    });
    sessions.add(session);
    deps.metrics?.imapSessions.inc({ service: spec.service });
    session.start(refusal);
  };

  if (implicitTLS && !spec.tlsContext) throw new Error(`imaps on ${spec.ip}:${spec.port} needs a TLS certificate`);
  const { server, address: addr } = await listenStream({
    name: spec.service,
    ip: spec.ip,
    port: spec.port,
    tls: implicitTLS ? { context: spec.tlsContext!, sni: spec.sni } : undefined,
    onConnection,
    log,
  });
  log.info({ ip: addr.ip, port: addr.port }, 'listening');
  return {
    address: addr,
    service: spec.service,
    get sessionCount() {
      return sessions.size;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of [...sessions]) {
        // rfc9051:7.1.5 BYE before closing.
        if (!s.isClosed) {
          s.w.line('* BYE server shutting down');
          void s.w.flush().finally(() => s.close());
        }
      }
      await closed;
    },
  };
}
