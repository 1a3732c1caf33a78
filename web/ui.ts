/**
 * The framework of the admin and account pages: server-rendered HTML, plain forms, no script.
 * It owns what every page needs so the pages cannot forget it:
 * - login (`login`, GET form and POST) through the caller's login function (which goes through
 *   the shared LoginGuard), logout (`logout`, POST), a session cookie (HttpOnly, SameSite=Strict,
 *   Secure on HTTPS) scoped to the service's path;
 * - CSRF: every POST must carry the session's token in the `_csrf` field (`r.csrf` renders it),
 *   and a browser's Origin / Sec-Fetch-Site must say same origin; the login form has its own
 *   double-submit token (a cookie and a field) so a foreign site cannot log a victim in;
 * - a strict Content-Security-Policy (no script at all, style only from `static/style.css`),
 *   no framing, no caching of pages;
 * - escaping: pages are built with web/html.ts, which escapes every interpolated value;
 * - errors: a handler throws FormError for input it refuses; on a POST the page of the same path
 *   is shown again with the message and status 400 (forms show clear errors). HttpError shows
 *   its status and message; anything else is a 500 page (logged).
 * - post/redirect/get: a POST handler returns `{ redirect, ok }` and the next page shows `ok`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log/logger.js';
import type { RequestContext, ServiceHandler } from './listener.js';
import { HttpError } from './errors.js';
import { readBody, parseForm } from './body.js';
import { Router } from './router.js';
import { html, render, type HtmlValue, type SafeHtml } from './html.js';
import { parseCookies, randomToken, sessionCookie, tokensEqual, type Flash, type Session, type SessionStore } from './session.js';
import { STYLE_CSS } from './style.js';

/** Largest form body accepted by the pages. */
export const UI_MAX_FORM_BYTES = 1024 * 1024;

/** Content-Security-Policy of every page: nothing but our own stylesheet, forms to ourselves. */
export const UI_CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const LOGIN_CSRF_COOKIE = 'moxtslogin';

/** Input a page refuses; the message is shown to the user above the form. */
export class FormError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FormError';
  }
}

/** Submitted form fields (POST) with helpers that throw FormError. */
export class FormFields {
  constructor(private readonly fields: Map<string, string[]> = new Map()) {}
  get(name: string): string | undefined {
    return this.fields.get(name)?.[0];
  }
  all(name: string): string[] {
    return this.fields.get(name) ?? [];
  }
  has(name: string): boolean {
    return this.fields.has(name);
  }
  /** Trimmed non-empty value, else FormError naming the field by its label. */
  required(name: string, label = name): string {
    const v = this.get(name)?.trim();
    if (!v) throw new FormError(`${label} is required`);
    return v;
  }
  /** Trimmed value, "" when absent. */
  text(name: string): string {
    return this.get(name)?.trim() ?? '';
  }
  /** An integer (or undefined when empty); FormError when it is not one. */
  int(name: string, label = name, o: { min?: number; max?: number } = {}): number | undefined {
    const v = this.text(name);
    if (v === '') return undefined;
    if (!/^-?\d+$/.test(v)) throw new FormError(`${label} must be a whole number`);
    const n = Number(v);
    if (o.min !== undefined && n < o.min) throw new FormError(`${label} must be at least ${o.min}`);
    if (o.max !== undefined && n > o.max) throw new FormError(`${label} must be at most ${o.max}`);
    return n;
  }
  checkbox(name: string): boolean {
    const v = this.get(name);
    return v !== undefined && v !== '' && v !== '0' && v !== 'false';
  }
}

export interface UiRequest {
  req: IncomingMessage;
  ctx: RequestContext;
  session: Session;
  /** Path parameters of the route (percent-decoded). */
  params: Record<string, string>;
  query: URLSearchParams;
  /** POST fields; empty for GET. */
  form: FormFields;
  /** The hidden CSRF field to put in every form. */
  csrf: SafeHtml;
  /** The service's path prefix, e.g. "/admin/"; links are `${r.base}queue`. */
  base: string;
}

export interface Page {
  title: string;
  body: HtmlValue;
  status?: number;
}

export interface Redirect {
  /** Path below the service's prefix ("queue/12"), or "" for its start page. */
  redirect: string;
  ok?: string;
  error?: string;
}

export type UiResult = Page | Redirect;
export type UiHandler = (r: UiRequest) => UiResult | Promise<UiResult>;

export type LoginResult = { ok: true; account?: string; loginName: string } | { ok: false; status: 401 | 429 | 500; message: string };

export interface UiApp {
  /** "admin" or "account": cookie name, page titles, logs. */
  name: string;
  title: string;
  /** Navigation: [path below the prefix, label]. */
  nav: ReadonlyArray<readonly [string, string]>;
  sessions: SessionStore;
  /** Whether the login form asks for an email address (account) or only a password (admin). */
  askUsername: boolean;
  login(l: { username: string; password: string; ip: string; req: IncomingMessage }): Promise<LoginResult>;
  router: UiRouter;
  log: Logger;
}

/** Routes of a UI app: `(method, "queue/:id")` → handler. */
export class UiRouter {
  private readonly routes: Array<{ method: 'GET' | 'POST'; segments: string[]; handler: UiHandler }> = [];
  get(pattern: string, h: UiHandler): this {
    this.routes.push({ method: 'GET', segments: pattern.split('/'), handler: h });
    return this;
  }
  post(pattern: string, h: UiHandler): this {
    this.routes.push({ method: 'POST', segments: pattern.split('/'), handler: h });
    return this;
  }
  find(method: string, subpath: string): { handler: UiHandler; params: Record<string, string> } | { allowed: string[] } | undefined {
    const path = subpath.split('/');
    const allowed: string[] = [];
    for (const r of this.routes) {
      const params = Router.match(r.segments, path);
      if (!params) continue;
      if (r.method === method) return { handler: r.handler, params };
      allowed.push(r.method);
    }
    return allowed.length ? { allowed } : undefined;
  }
}

function isRedirect(r: UiResult): r is Redirect {
  return typeof (r as Redirect).redirect === 'string';
}

function securityHeaders(): Record<string, string> {
  return {
    'Content-Security-Policy': UI_CSP,
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'same-origin',
    'Cache-Control': 'no-store',
  };
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string | string[]> = {}): void {
  const b = Buffer.from(body, 'utf8');
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': String(b.length), ...securityHeaders(), ...headers });
  res.end(b);
}

function seeOther(res: ServerResponse, location: string, headers: Record<string, string | string[]> = {}): void {
  res.writeHead(303, { Location: location, 'Content-Length': '0', 'Cache-Control': 'no-store', ...headers });
  res.end();
}

/** A whole HTML document around a page's body. */
export function layout(o: {
  app: Pick<UiApp, 'title' | 'nav'>;
  base: string;
  title: string;
  body: HtmlValue;
  session?: Session;
  flash?: Flash;
  current?: string;
}): string {
  const nav = o.session
    ? html`<nav aria-label="main"><ul>${o.app.nav.map(
        ([p, label]) => html`<li><a href="${o.base}${p}"${o.current !== undefined && (p === o.current || (p !== '' && o.current.startsWith(p + '/'))) ? html` aria-current="page"` : ''}>${label}</a></li>`,
      )}</ul><form method="post" action="${o.base}logout" class="logout"><input type="hidden" name="_csrf" value="${o.session.csrf}"><span class="who">${o.session.loginName}</span> <button type="submit">Log out</button></form></nav>`
    : '';
  const flash = o.flash ? html`<p class="flash ${o.flash.kind}" role="${o.flash.kind === 'error' ? 'alert' : 'status'}">${o.flash.text}</p>` : '';
  return render(html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} - ${o.app.title}</title><link rel="stylesheet" href="${o.base}static/style.css"></head>
<body><header><a class="brand" href="${o.base}">${o.app.title}</a>${nav}</header>
<main><h1>${o.title}</h1>${flash}${o.body}</main></body></html>
`);
}

/** The HTTP handler of a UI app. */
export function uiHandler(app: UiApp): ServiceHandler {
  const cookieName = `moxts${app.name}`;
  return async (req, res, ctx) => {
    const sub = ctx.subpath;
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    if (sub === 'static/style.css') {
      if (method !== 'GET') throw new HttpError(405, 'method not allowed', { Allow: 'GET, HEAD' });
      res.writeHead(200, { 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'max-age=3600', 'X-Content-Type-Options': 'nosniff' });
      res.end(req.method === 'HEAD' ? undefined : STYLE_CSS);
      return;
    }
    const cookies = parseCookies(req.headers.cookie);
    const page = (title: string, body: HtmlValue, o: { status?: number; session?: Session; flash?: Flash; headers?: Record<string, string | string[]> } = {}) =>
      send(res, o.status ?? 200, layout({ app, base: ctx.base, title, body, session: o.session, flash: o.flash, current: sub }), o.headers);

    if (method === 'POST') checkOrigin(req);

    if (sub === 'login') return login(method);

    const session = app.sessions.get(cookies.get(cookieName));
    if (!session) {
      if (method === 'GET') return seeOther(res, `${ctx.base}login`);
      return page('Logged out', html`<p>Your session has ended. <a href="${ctx.base}login">Log in</a> again.</p>`, { status: 403 });
    }
    let form = new FormFields();
    if (method === 'POST') {
      const body = await readBody(req, UI_MAX_FORM_BYTES);
      const parsed = parseForm(req.headers['content-type'], body);
      if (!parsed) throw new HttpError(415, 'forms must be application/x-www-form-urlencoded or multipart/form-data');
      form = new FormFields(parsed.fields);
      const token = form.get('_csrf');
      // CSRF: the token from the session's own page must come back with every change.
      if (!token || !tokensEqual(token, session.csrf)) {
        app.log.warn({ ip: ctx.ip, path: sub }, 'form without valid csrf token refused');
        return page('Refused', html`<p>This form was not sent from a page of this session (missing or wrong CSRF token). Go back, reload the page and try again.</p>`, { status: 403, session });
      }
      if (sub === 'logout') {
        app.sessions.delete(session);
        return seeOther(res, `${ctx.base}login`, { 'Set-Cookie': sessionCookie(cookieName, '', { path: ctx.base, secure: ctx.secure, maxAgeSeconds: 0 }) });
      }
    }
    const csrf = html`<input type="hidden" name="_csrf" value="${session.csrf}">`;
    const query = new URL(req.url ?? '/', 'http://x').searchParams;
    const run = async (m: string, f: FormFields, error?: string): Promise<void> => {
      const found = app.router.find(m, sub);
      if (!found) return page('Not found', html`<p>There is no such page.</p>`, { status: 404, session });
      if ('allowed' in found) throw new HttpError(405, 'method not allowed', { Allow: found.allowed.join(', ') });
      let result: UiResult;
      try {
        result = await found.handler({ req, ctx, session, params: found.params, query, form: f, csrf, base: ctx.base });
      } catch (e) {
        if (e instanceof FormError && m === 'POST') {
          // Show the page of this path again, with the error above it.
          const get = app.router.find('GET', sub);
          if (get && !('allowed' in get)) return run('GET', new FormFields(), e.message);
          return page('Error', html`<p class="flash error" role="alert">${e.message}</p>`, { status: 400, session });
        }
        if (e instanceof FormError) return page('Error', html`<p class="flash error" role="alert">${e.message}</p>`, { status: 400, session });
        if (e instanceof HttpError && e.status < 500) return page(e.status === 404 ? 'Not found' : 'Error', html`<p class="flash error" role="alert">${e.message}</p>`, { status: e.status, session });
        throw e;
      }
      if (isRedirect(result)) {
        if (result.ok) session.flash = { kind: 'ok', text: result.ok };
        if (result.error) session.flash = { kind: 'error', text: result.error };
        return seeOther(res, `${ctx.base}${result.redirect}`);
      }
      let flash: Flash | undefined;
      if (error !== undefined) flash = { kind: 'error', text: error };
      else if (session.flash) {
        flash = session.flash;
        session.flash = undefined;
      }
      return page(result.title, result.body, { status: error !== undefined ? 400 : (result.status ?? 200), session, flash });
    };
    return run(method, form);

    async function login(m: string): Promise<void> {
      const showForm = (status: number, error?: string) => {
        const token = randomToken();
        page(
          'Log in',
          html`<form method="post" action="${ctx.base}login" class="login">
<input type="hidden" name="_login" value="${token}">
${app.askUsername ? html`<label>Email address <input name="username" type="email" autocomplete="username" required autofocus></label>` : ''}
<label>Password <input name="password" type="password" autocomplete="current-password" required${app.askUsername ? '' : html` autofocus`}></label>
<button type="submit">Log in</button></form>`,
          {
            status,
            flash: error ? { kind: 'error', text: error } : undefined,
            headers: { 'Set-Cookie': sessionCookie(LOGIN_CSRF_COOKIE, token, { path: ctx.base, secure: ctx.secure }) },
          },
        );
      };
      if (m === 'GET') return showForm(200);
      if (m !== 'POST') throw new HttpError(405, 'method not allowed', { Allow: 'GET, POST' });
      const parsed = parseForm(req.headers['content-type'], await readBody(req, 64 * 1024));
      const f = new FormFields(parsed?.fields);
      const token = f.get('_login');
      const expect = cookies.get(LOGIN_CSRF_COOKIE);
      if (!token || !expect || !tokensEqual(token, expect)) return showForm(403, 'The login form expired or did not come from this site; please try again.');
      const username = app.askUsername ? f.text('username') : 'admin';
      const password = f.get('password') ?? '';
      if (!username || !password) return showForm(400, app.askUsername ? 'Email address and password are required.' : 'Password is required.');
      const r = await app.login({ username, password, ip: ctx.ip, req });
      if (!r.ok) return showForm(r.status, r.message);
      const { token: sessionToken } = app.sessions.create({ account: r.account, loginName: r.loginName });
      app.log.info({ ip: ctx.ip, account: r.account }, 'web login');
      seeOther(res, ctx.base, {
        'Set-Cookie': [
          sessionCookie(cookieName, sessionToken, { path: ctx.base, secure: ctx.secure }),
          sessionCookie(LOGIN_CSRF_COOKIE, '', { path: ctx.base, secure: ctx.secure, maxAgeSeconds: 0 }),
        ],
      });
    }
  };
}

/**
 * Browsers say where a request comes from: a cross-site Sec-Fetch-Site or an Origin of another
 * host is refused outright (defence in depth besides the tokens and SameSite=Strict cookies).
 */
function checkOrigin(req: IncomingMessage): void {
  const site = req.headers['sec-fetch-site'];
  if (site && site !== 'same-origin' && site !== 'none') throw new HttpError(403, 'cross-site request refused');
  const origin = req.headers.origin;
  if (origin && origin !== 'null') {
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      throw new HttpError(403, 'bad Origin header');
    }
    if (host !== req.headers.host) throw new HttpError(403, 'cross-origin request refused');
  } else if (origin === 'null') throw new HttpError(403, 'opaque origin refused');
}
