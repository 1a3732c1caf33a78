/**
 * A typed client for the webapi (mox-compatible v0), on undici. Like mox's Go client it sends the
 * request JSON as the urlencoded form field `request`; Send with files uses multipart/form-data.
 *
 *   const c = new WebapiClient({ baseURL: 'http://localhost:1080/webapi/v0/', username: 'mox@localhost', password: 'moxmoxmox' });
 *   const r = await c.send({ To: [{ Address: 'someone@localhost' }], Subject: 'hi', Text: 'hello' });
 *   // r.MessageID, r.Submissions[0].QueueMsgID
 *
 * An error answer (HTTP 400 `{Code, Message}`) throws WebapiError with `code`; other failures
 * (401, 429, …) throw WebapiError with code "http" and the status.
 */
import { request, FormData, type Dispatcher } from 'undici';
import type * as z from 'zod';
import type * as T from './types.js';

/** Largest JSON success body accepted (mox's client: 3 MiB) and error body (10 KiB). */
export const MAX_RESPONSE = 3 * 1024 * 1024;
export const MAX_ERROR_RESPONSE = 10 * 1024;

export class WebapiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'WebapiError';
  }
}

export type SendRequest = z.input<typeof T.SendRequest>;
export type SendResult = z.output<typeof T.SendResult>;
export type Suppression = z.output<typeof T.Suppression>;
export type MessageGetResult = z.output<typeof T.MessageGetResult>;

/** A file upload for Send in a multipart/form-data request. */
export interface UploadFile {
  /** alternativefile, inlinefile or attachedfile. */
  field: 'alternativefile' | 'inlinefile' | 'attachedfile';
  filename: string;
  contentType?: string;
  data: Buffer | string;
}

export interface WebapiClientOptions {
  /** E.g. "http://localhost:1080/webapi/v0/" (with trailing slash). */
  baseURL: string;
  username: string;
  password: string;
  /** undici dispatcher (e.g. an Agent with TLS options). */
  dispatcher?: Dispatcher;
}

export class WebapiClient {
  constructor(private readonly o: WebapiClientOptions) {}

  private async call(method: string, req: unknown, opts: { files?: UploadFile[]; idempotencyKey?: string; bytes?: boolean } = {}): Promise<{ status: number; body: Buffer; headers: Record<string, string | string[] | undefined> }> {
    const headers: Record<string, string> = {
      authorization: 'Basic ' + Buffer.from(`${this.o.username}:${this.o.password}`).toString('base64'),
    };
    if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey;
    let body: string | FormData;
    if (opts.files?.length) {
      const fd = new FormData();
      fd.append('request', JSON.stringify(req));
      for (const f of opts.files) fd.append(f.field, new Blob([f.data], f.contentType ? { type: f.contentType } : {}), f.filename);
      body = fd;
    } else {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams({ request: JSON.stringify(req) }).toString();
    }
    const res = await request(new URL(method, this.o.baseURL), { method: 'POST', headers, body, dispatcher: this.o.dispatcher });
    const max = res.statusCode === 200 ? (opts.bytes ? Infinity : MAX_RESPONSE) : MAX_ERROR_RESPONSE;
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of res.body) {
      n += (c as Buffer).length;
      if (n > max) {
        res.body.destroy();
        throw new WebapiError('http', `response larger than ${max} bytes`, res.statusCode);
      }
      chunks.push(c as Buffer);
    }
    const buf = Buffer.concat(chunks);
    if (res.statusCode === 400) {
      let e: { Code?: string; Message?: string } = {};
      try {
        e = JSON.parse(buf.toString('utf8')) as typeof e;
      } catch {
        // not JSON
      }
      throw new WebapiError(e.Code ?? 'http', e.Message ?? buf.toString('utf8'), 400);
    }
    if (res.statusCode !== 200) throw new WebapiError('http', `HTTP ${res.statusCode}: ${buf.toString('utf8').trim()}`, res.statusCode);
    return { status: res.statusCode, body: buf, headers: res.headers };
  }

  private async json<R>(method: string, req: unknown, opts: { files?: UploadFile[]; idempotencyKey?: string } = {}): Promise<R> {
    const r = await this.call(method, req, opts);
    return JSON.parse(r.body.toString('utf8')) as R;
  }

  /** Send a message. `files` are uploaded as multipart form files; `idempotencyKey` makes retries safe. */
  send(req: SendRequest, opts: { files?: UploadFile[]; idempotencyKey?: string } = {}): Promise<SendResult> {
    return this.json('Send', req, opts);
  }
  suppressionList(): Promise<{ Suppressions: Suppression[] }> {
    return this.json('SuppressionList', {});
  }
  suppressionAdd(req: { EmailAddress: string; Manual?: boolean; Reason?: string }): Promise<Record<string, never>> {
    return this.json('SuppressionAdd', req);
  }
  suppressionRemove(req: { EmailAddress: string }): Promise<Record<string, never>> {
    return this.json('SuppressionRemove', req);
  }
  suppressionPresent(req: { EmailAddress: string }): Promise<{ Present: boolean }> {
    return this.json('SuppressionPresent', req);
  }
  messageGet(req: { MsgID: number }): Promise<MessageGetResult> {
    return this.json('MessageGet', req);
  }
  async messageRawGet(req: { MsgID: number }): Promise<Buffer> {
    return (await this.call('MessageRawGet', req, { bytes: true })).body;
  }
  async messagePartGet(req: { MsgID: number; PartPath?: number[] }): Promise<Buffer> {
    return (await this.call('MessagePartGet', req, { bytes: true })).body;
  }
  messageDelete(req: { MsgID: number }): Promise<Record<string, never>> {
    return this.json('MessageDelete', req);
  }
  messageFlagsAdd(req: { MsgID: number; Flags: string[] }): Promise<Record<string, never>> {
    return this.json('MessageFlagsAdd', req);
  }
  messageFlagsRemove(req: { MsgID: number; Flags: string[] }): Promise<Record<string, never>> {
    return this.json('MessageFlagsRemove', req);
  }
  messageMove(req: { MsgID: number; DestMailboxName: string }): Promise<Record<string, never>> {
    return this.json('MessageMove', req);
  }
}
