// rfc9051:6.2.2 AUTHENTICATE with rfc4959 SASL-IR: PLAIN, SCRAM-SHA-256(-PLUS), SCRAM-SHA-1(-PLUS)
// (auth/sasl.ts), through the server's LoginGuard like LOGIN.
import type { Session } from '../session.js';
import { loginContext, loginFailure } from './login.js';

export async function authenticate(s: Session, _tag: string, c: { mechanism: string; initial: string | null }): Promise<string | null | void> {
  const guard = s.cfg.loginGuard;
  const ctx = loginContext(s, c.mechanism);
  if ('ratelimited' in guard.checkLogin(s.remoteIP)) {
    const o = await guard.recordSaslResult(ctx, { ratelimited: true });
    if (!o.ok) throw loginFailure(s, o);
  }
  const sasl = guard.startSasl(c.mechanism, {
    tls: s.tls,
    allowPlaintextWithoutTls: s.cfg.allowPlaintextLogin,
    channelBinding: s.channelBinding(),
  });
  let step = await sasl.stepText(c.initial);
  while ('challenge' in step) {
    const line = await s.readLine(step.challenge.toString('base64'));
    if (line === undefined) return null; // connection gone
    step = await sasl.stepText(line.toString('latin1'));
  }
  const o = await guard.recordSaslResult({ ...ctx, username: sasl.username }, step);
  if (!o.ok) throw loginFailure(s, o);
  s.login(o.account);
  return `[CAPABILITY ${s.capabilities()}] AUTHENTICATE completed`;
}
