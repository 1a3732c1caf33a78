/**
 * TLS server contexts for a listener from its `TLS.KeyCerts` (PEM files) and `MinVersion`.
 * With several certificates the client's SNI name picks the one whose names match; otherwise
 * the first is used. Shared by the SMTP, IMAP and HTTP listeners, with `listenStream`/`listenOn`
 * (bind a plain or implicit-TLS server and wait until it listens).
 */
import { readFile } from 'node:fs/promises';
import { createSecureContext, TLSSocket, type SecureContext, type SecureVersion } from 'node:tls';
import { createServer as createTcpServer, type Server as NetServer, type Socket, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import type { Logger } from '../log/logger.js';
import { X509Certificate } from 'node:crypto';
import type { Listener } from './static-schema.js';

export interface ListenerTLS {
  /** The default context (first certificate). */
  context: SecureContext;
  /** SNI selection among all certificates. */
  sni(servername: string): SecureContext;
  /** PEM of the certificates, e.g. for clients in tests to trust. */
  certPems: string[];
}

function minVersion(v: string | undefined): SecureVersion {
  switch (v) {
    case 'TLSv1.0':
      return 'TLSv1';
    case 'TLSv1.1':
      return 'TLSv1.1';
    case 'TLSv1.3':
      return 'TLSv1.3';
    default:
      return 'TLSv1.2';
  }
}

/** Load a listener's certificates; undefined when it has no TLS section. */
export async function loadListenerTLS(l: Pick<Listener, 'TLS'>): Promise<ListenerTLS | undefined> {
  if (!l.TLS) return undefined;
  const entries: Array<{ ctx: SecureContext; names: string[]; pem: string }> = [];
  for (const kc of l.TLS.KeyCerts) {
    const [cert, key] = await Promise.all([readFile(kc.CertFile, 'utf8'), readFile(kc.KeyFile, 'utf8')]);
    const ctx = createSecureContext({ cert, key, minVersion: minVersion(l.TLS.MinVersion) });
    const x = new X509Certificate(cert);
    const names = (x.subjectAltName ?? '')
      .split(', ')
      .filter((n) => n.startsWith('DNS:'))
      .map((n) => n.slice(4).toLowerCase());
    entries.push({ ctx, names, pem: cert });
  }
  const first = entries[0]!;
  const matches = (pattern: string, name: string) =>
    pattern === name || (pattern.startsWith('*.') && name.endsWith(pattern.slice(1)) && !name.slice(0, -pattern.length + 1).includes('.'));
  return {
    context: first.ctx,
    sni: (servername) => {
      const n = servername.toLowerCase();
      return entries.find((e) => e.names.some((p) => matches(p, n)))?.ctx ?? first.ctx;
    },
    certPems: entries.map((e) => e.pem),
  };
}

/** Time a client gets to complete the TLS handshake on an implicit-TLS port. */
export const TLS_HANDSHAKE_TIMEOUT_MS = 30_000;

/**
 * A TCP server whose connections are TLS from the first byte (SMTP submissions 465, IMAPS 993,
 * HTTPS). Plain sockets are wrapped here instead of using tls.createServer: a tls.Server gets its
 * default certificate only from PEM options, so a client that sends no SNI (one connecting by IP
 * address) would fail the handshake; TLSSocket takes the default context directly, and the SNI
 * callback still picks among the listener's certificates. `onSecure` gets each socket after its
 * handshake; failed handshakes are reported to `onError` and the socket is closed.
 */
export function implicitTlsServer(o: {
  context: SecureContext;
  sni?: (servername: string) => SecureContext;
  onSecure: (socket: TLSSocket) => void;
  onError?: (err: Error) => void;
  /** A handshake not done by then is abandoned (default TLS_HANDSHAKE_TIMEOUT_MS). */
  handshakeTimeoutMs?: number;
}): NetServer {
  const pending = new Set<TLSSocket>();
  const server = createTcpServer((raw) => {
    const tls = new TLSSocket(raw, { isServer: true, secureContext: o.context, SNICallback: (name, cb) => cb(null, o.sni ? o.sni(name) : o.context) });
    pending.add(tls);
    const timer = setTimeout(() => fail(new Error('tls handshake timeout')), o.handshakeTimeoutMs ?? TLS_HANDSHAKE_TIMEOUT_MS);
    const fail = (err: Error) => {
      clearTimeout(timer);
      pending.delete(tls);
      o.onError?.(err);
      tls.destroy();
      raw.destroy();
    };
    tls.once('error', fail);
    tls.once('secure', () => {
      clearTimeout(timer);
      pending.delete(tls);
      tls.off('error', fail);
      o.onSecure(tls);
    });
  });
  // Closing the server also drops handshakes in progress (the sessions close their own sockets).
  const close = server.close.bind(server);
  server.close = (cb?: (err?: Error) => void) => {
    for (const t of pending) t.destroy();
    pending.clear();
    return close(cb);
  };
  return server;
}

/** Bind `server` to ip:port; resolves with the bound address (port 0 becomes the chosen port). */
export async function listenOn(server: NetServer, name: string, ip: string, port: number): Promise<{ ip: string; port: number }> {
  server.listen(port, ip);
  await Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([e]) => {
      throw new Error(`${name}: cannot listen on ${ip}:${port}: ${(e as Error).message}`);
    }),
  ]);
  const a = server.address() as AddressInfo;
  return { ip: a.address, port: a.port };
}

/**
 * A listening socket server for a line protocol (SMTP, IMAP): plain TCP, or implicit TLS when
 * `tls` is given (failed handshakes logged at debug). `onConnection` gets each (secured) socket.
 */
export async function listenStream(o: {
  name: string;
  ip: string;
  port: number;
  tls?: { context: SecureContext; sni?: (servername: string) => SecureContext };
  onConnection: (socket: Socket) => void;
  log: Logger;
}): Promise<{ server: NetServer; address: { ip: string; port: number } }> {
  const server = o.tls
    ? implicitTlsServer({ context: o.tls.context, sni: o.tls.sni, onSecure: o.onConnection, onError: (err) => o.log.debug({ err: err.message }, 'tls handshake failed') })
    : createTcpServer(o.onConnection);
  server.on('error', (err) => o.log.error({ err }, 'listener error'));
  return { server, address: await listenOn(server, o.name, o.ip, o.port) };
}
