// rfc9051:6.2.3 LOGIN, through the server's one LoginGuard (auth/login.ts): rate limit per IP
// class, password check, LoginDisabled, attempt recorded in auth.db with protocol "imap".
import { ImapError } from '../errors.js';
import { tlsDescription, type LoginOutcome } from '../../auth/login.js';
import type { Session } from '../session.js';

export function loginContext(s: Session, mechanism: string) {
  return {
    protocol: 'imap' as const,
    mechanism,
    ip: s.remoteIP,
    localIP: s.localIP,
    tls: tlsDescription(s.sock as never),
    userAgent: s.clientId ?? null,
  };
}

/** Turn a failed login into the error to answer; a rate-limited client is disconnected. */
export function loginFailure(s: Session, o: Exclude<LoginOutcome, { ok: true }>): ImapError {
  switch (o.reason) {
    case 'badcreds':
      return new ImapError('NO', 'AUTHENTICATIONFAILED', 'authentication failed');
    case 'disabled':
      return new ImapError('NO', 'AUTHORIZATIONFAILED', `login disabled: ${o.message}`);
    case 'ratelimited':
      // mox §9.2: IMAP refuses clients over the failed-login limit.
      s.w.line('* BYE too many authentication failures');
      s.state = 'logout';
      return new ImapError('NO', 'UNAVAILABLE', o.message);
    case 'malformed':
    case 'aborted':
      return new ImapError('BAD', undefined, o.message);
    case 'tlsrequired':
      return new ImapError('NO', 'PRIVACYREQUIRED', o.message);
    case 'unsupported':
      return new ImapError('NO', 'CANNOT', o.message);
    default:
      return new ImapError('NO', 'SERVERBUG', o.message);
  }
}

export async function login(s: Session, _tag: string, c: { username: string; password: string }): Promise<string | void> {
  // rfc9051:6.2.3 LOGINDISABLED: no plaintext passwords without TLS.
  if (!s.tls && !s.cfg.allowPlaintextLogin) throw new ImapError('NO', 'PRIVACYREQUIRED', 'use STARTTLS first');
  const o = await s.cfg.loginGuard.authenticatePassword({ ...loginContext(s, 'login'), username: c.username, password: c.password });
  if (!o.ok) throw loginFailure(s, o);
  s.login(o.account);
  return `[CAPABILITY ${s.capabilities()}] LOGIN completed`;
}
