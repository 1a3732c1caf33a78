/**
 * HTTP Basic authentication (rfc7617) against the server's one LoginGuard (auth/login.ts): the
 * shared failed-login limiter, password check, LoginDisabled and the login-attempt record. The
 * caller decides the response: 401 with `WWW-Authenticate` (missing or bad credentials, disabled
 * login), 429 when the limiter refuses.
 */
import type { IncomingMessage } from 'node:http';
import type { LoginGuard } from '../auth/login.js';
import type { LoginProtocol } from '../auth/authdb.js';
import { tlsDescription } from '../auth/login.js';

export type BasicAuthResult =
  | { ok: true; account: string; username: string }
  | { ok: false; status: 401 | 429 | 500; message: string; reason: 'missing' | 'malformed' | 'badcreds' | 'disabled' | 'ratelimited' | 'error' };

/** Username and password of an `Authorization: Basic` header; undefined when absent or malformed. */
export function parseBasicAuth(header: string | undefined): { username: string; password: string } | undefined {
  if (!header) return undefined;
  const m = /^basic[ \t]+([A-Za-z0-9+/=._~-]+)[ \t]*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  // rfc7617:2 the user-id cannot contain a colon; the password may.
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Authenticate a request with HTTP Basic credentials through the shared login guard. */
export async function basicAuth(
  req: IncomingMessage,
  opts: { guard: LoginGuard; ip: string; protocol: LoginProtocol },
): Promise<BasicAuthResult> {
  const creds = parseBasicAuth(req.headers.authorization);
  if (!creds) {
    return { ok: false, status: 401, reason: req.headers.authorization ? 'malformed' : 'missing', message: 'use http basic auth with email address as username' };
  }
  const outcome = await opts.guard.authenticatePassword({
    protocol: opts.protocol,
    mechanism: 'http-basic',
    ip: opts.ip,
    localIP: req.socket.localAddress ?? null,
    tls: tlsDescription(req.socket as { encrypted?: boolean }),
    userAgent: req.headers['user-agent'] ?? null,
    username: creds.username,
    password: creds.password,
  });
  if (outcome.ok) return { ok: true, account: outcome.account, username: creds.username };
  switch (outcome.reason) {
    case 'ratelimited':
      return { ok: false, status: 429, reason: 'ratelimited', message: 'too many auth attempts' };
    case 'disabled':
      return { ok: false, status: 401, reason: 'disabled', message: `login disabled: ${outcome.message}` };
    case 'error':
      return { ok: false, status: 500, reason: 'error', message: 'error verifying credentials' };
    default:
      return { ok: false, status: 401, reason: 'badcreds', message: 'use http basic auth with email address as username' };
  }
}
