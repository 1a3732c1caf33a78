/**
 * Webapi test helpers: a test server with the webapi on 127.0.0.1:0, a typed client for an account,
 * and a raw POST with undici for protocol cases.
 */
import { request } from 'undici';
import { startTestServer, type TestServer, type TestServerOptions } from './server.js';
import { WebapiClient } from '../../webapi/client.js';

export interface WebapiTestServer extends TestServer {
  /** http://127.0.0.1:<port>/webapi/ */
  base: string;
  client(username?: string, password?: string): WebapiClient;
}

export const PASSWORD = 'test1234';

export async function startWebapiServer(o: TestServerOptions = {}): Promise<WebapiTestServer> {
  const ts = await startTestServer({
    ...o,
    passwords: { mjl: PASSWORD, ...o.passwords },
    listener: { WebAPIHTTP: { Enabled: true, Port: 0 }, ...o.listener },
    // These tests look at what Send queued; the queue scheduler would start delivering it.
    noQueueScheduler: o.noQueueScheduler ?? true,
  });
  const l = ts.server.listeners.find((x) => x.service === 'webapi');
  if (!l) throw new Error('webapi not listening');
  const base = `http://127.0.0.1:${l.port}/webapi/`;
  return {
    ...ts,
    base,
    client: (username = 'mjl@example.com', password = PASSWORD) => new WebapiClient({ baseURL: `${base}v0/`, username, password }),
  };
}

export function basic(username: string, password: string): string {
  return 'Basic ' + Buffer.from(`${username}:${password}`).toString('base64');
}

/** POST a raw body; returns status, headers and text. */
export async function post(
  url: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string; headers: Record<string, string | string[] | undefined>; json: () => { Code: string; Message: string } & Record<string, unknown> }> {
  const res = await request(url, { method: 'POST', body, headers });
  const text = await res.body.text();
  return { status: res.statusCode, text, headers: res.headers, json: () => JSON.parse(text) as never };
}

/** The form body mox's clients send. */
export function form(req: unknown): { body: string; headers: Record<string, string> } {
  return { body: new URLSearchParams({ request: typeof req === 'string' ? req : JSON.stringify(req) }).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } };
}
