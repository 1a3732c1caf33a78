/**
 * `password`: change the account's password. The current password is checked through the
 * server's LoginGuard (protocol "web-account": the failed-login limiter and the attempt record
 * apply, as at login); the new one is set by the same control command as `moxts
 * setaccountpassword`. Afterwards the account's other page sessions end; this one stays.
 * Logins over IMAP, SMTP and the webapi check the stored hash at each login, so the old password
 * stops working there at once (the webapi's credential cache is keyed by the password record).
 */
import { tlsDescription } from '../../auth/login.js';
import { html } from '../html.js';
import { input, postForm } from '../components.js';
import { FormError, type UiRouter } from '../ui.js';
import type { AccountDeps } from './deps.js';

/** Shortest new password accepted (mox's account page asks for at least 8 characters). */
export const MIN_PASSWORD_LENGTH = 8;
/** Longest accepted: a password is hashed on every login; a megabyte is no password. */
export const MAX_PASSWORD_LENGTH = 1024;

export function registerPassword(router: UiRouter, deps: AccountDeps): void {
  router.get('password', (r) => ({
    title: 'Password',
    body: html`<p>After the change, your other sessions of these pages are logged out. Mail clients must use the new password from then on.</p>
${postForm(
  r,
  'password',
  html`${input('Current password', 'current', { type: 'password', required: true, autocomplete: 'current-password' })}
${input(`New password (at least ${MIN_PASSWORD_LENGTH} characters)`, 'new', { type: 'password', required: true, autocomplete: 'new-password' })}
${input('New password again', 'repeat', { type: 'password', required: true, autocomplete: 'new-password' })}`,
  { submit: 'Change password', label: 'Change password' },
)}`,
  }));

  router.post('password', async (r) => {
    const account = r.session.account!;
    const current = r.form.get('current') ?? '';
    const pw = r.form.get('new') ?? '';
    if (!current) throw new FormError('Current password is required.');
    if ([...pw].length < MIN_PASSWORD_LENGTH) throw new FormError(`The new password must be at least ${MIN_PASSWORD_LENGTH} characters.`);
    if (pw.length > MAX_PASSWORD_LENGTH) throw new FormError(`The new password must be at most ${MAX_PASSWORD_LENGTH} characters.`);
    if (pw !== (r.form.get('repeat') ?? '')) throw new FormError('The two new passwords differ.');
    if (pw === current) throw new FormError('The new password is the same as the current one.');
    const out = await deps.loginGuard.authenticatePassword({
      protocol: 'web-account',
      mechanism: 'password-change',
      ip: r.ctx.ip,
      localIP: r.req.socket.localAddress ?? null,
      tls: tlsDescription(r.req.socket as { encrypted?: boolean }),
      userAgent: r.req.headers['user-agent'] ?? null,
      username: r.session.loginName,
      password: current,
    });
    if (!out.ok) {
      switch (out.reason) {
        case 'ratelimited':
          throw new FormError('Too many failed logins from your address; try again later.');
        case 'disabled':
          throw new FormError(`Login disabled: ${out.message}`);
        case 'error':
          throw new Error('verifying the current password failed');
        default:
          throw new FormError('The current password is wrong.');
      }
    }
    // The login name must still lead to this account (addresses can move between accounts).
    if (out.account !== account) throw new FormError('Your login address no longer belongs to this account; log in again.');
    // The server's handler ends the account's other sessions (those of every listener: one
    // SessionStore), keeping this one.
    const res = (await deps.ctl('setaccountpassword', { account, password: pw, keepWebSession: r.session.key })) as { endedWebSessions?: number } | null;
    const ended = res?.endedWebSessions ?? 0;
    deps.log.info({ account, ip: r.ctx.ip, endedSessions: ended }, 'account password changed');
    return { redirect: 'password', ok: `Password changed.${ended ? ` ${ended} other session${ended === 1 ? '' : 's'} logged out.` : ''}` };
  });
}
