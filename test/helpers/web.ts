/**
 * Web page test helpers: a test server with the admin pages (/admin/), the account pages
 * (/account/) and the webapi on one HTTP listener at 127.0.0.1:0, and `WebSession`, a small
 * cookie-keeping HTTP client (undici) that logs in through the real login form and submits forms
 * with the CSRF token of the page it last fetched. Browser tests use test/helpers/browser.ts.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { hashPassword } from '../../auth/password.js';
import { startTestServer, type TestServer, type TestServerOptions } from './server.js';

export const ADMIN_PASSWORD = 'admin-secret-1';
export const ACCOUNT_PASSWORD = 'test1234';

export interface WebTestServer extends TestServer {
  /** http://127.0.0.1:<port> */
  origin: string;
  admin(): WebSession;
  account(): WebSession;
}

export async function startWebServer(o: TestServerOptions = {}): Promise<WebTestServer> {
  const ts = await startTestServer({
    ...o,
    passwords: { mjl: ACCOUNT_PASSWORD, ...o.passwords },
    static: { AdminPasswordFile: 'adminpasswd', ...o.static },
    listener: {
      AdminHTTP: { Enabled: true, Port: 0 },
      AccountHTTP: { Enabled: true, Port: 0, Path: '/account/' },
      WebAPIHTTP: { Enabled: true, Port: 0 },
      ...o.listener,
    },
  });
  await writeFile(join(ts.dir, 'adminpasswd'), JSON.stringify(await hashPassword(ADMIN_PASSWORD)) + '\n', { mode: 0o600 });
  const l = ts.server.listeners.find((x) => x.service === 'admin');
  if (!l) throw new Error('admin pages not listening');
  const origin = `http://127.0.0.1:${l.port}`;
  return { ...ts, origin, admin: () => new WebSession(`${origin}/admin/`), account: () => new WebSession(`${origin}/account/`) };
}

export interface WebResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** A cookie-keeping client of one UI service (base = "http://host:port/admin/"). */
export class WebSession {
  readonly cookies = new Map<string, string>();
  /** CSRF token of the last page fetched. */
  csrf = '';

  constructor(readonly base: string) {}

  private cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  private keep(headers: Record<string, string | string[] | undefined>): void {
    const sc = headers['set-cookie'];
    for (const c of Array.isArray(sc) ? sc : sc ? [sc] : []) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (/;\s*Max-Age=0/i.test(c) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async get(path: string): Promise<WebResponse> {
    const r = await request(this.base + path, { method: 'GET', headers: { cookie: this.cookieHeader() } });
    const text = await r.body.text();
    this.keep(r.headers);
    const m = /name="_csrf" value="([^"]*)"/.exec(text);
    if (m) this.csrf = m[1]!;
    return { status: r.statusCode, headers: r.headers, text };
  }

  /** POST form fields; the CSRF token of the last page is added unless `_csrf` is given (null: none). */
  async post(path: string, fields: Record<string, string | string[]>, o: { csrf?: string | null; headers?: Record<string, string> } = {}): Promise<WebResponse> {
    const p = new URLSearchParams();
    const csrf = o.csrf === undefined ? this.csrf : o.csrf;
    if (csrf !== null) p.append('_csrf', csrf);
    for (const [k, v] of Object.entries(fields)) for (const x of Array.isArray(v) ? v : [v]) p.append(k, x);
    const r = await request(this.base + path, {
      method: 'POST',
      headers: { cookie: this.cookieHeader(), 'content-type': 'application/x-www-form-urlencoded', ...o.headers },
      body: p.toString(),
    });
    const text = await r.body.text();
    this.keep(r.headers);
    return { status: r.statusCode, headers: r.headers, text };
  }

  /** POST and follow a 303 to the page it names (as a browser does). */
  async submit(path: string, fields: Record<string, string | string[]>): Promise<WebResponse> {
    const r = await this.post(path, fields);
    if (r.status !== 303) return r;
    const loc = String(r.headers.location);
    return this.get(loc.slice(new URL(this.base).pathname.length));
  }

  /** Log in through the login form; returns the response to the login POST. */
  async login(password: string, username?: string): Promise<WebResponse> {
    const form = await this.get('login');
    const token = /name="_login" value="([^"]*)"/.exec(form.text)?.[1] ?? '';
    return this.post('login', { _login: token, password, ...(username !== undefined ? { username } : {}) }, { csrf: null });
  }
}
