/**
 * The webapi HTTP service (mox §1.1): mounted on a web listener at the WebAPIHTTP(S) path.
 * `GET <base>` → 303 to `<base>v0/`; `GET <base>v0/` index; `GET <base>v0/openapi.json`;
 * `GET <base>v0/<Method>` example page; `POST <base>v0/<Method>` calls the method.
 *
 * A call: HTTP Basic auth through the shared LoginGuard (401 + WWW-Authenticate, 429 when
 * rate limited) → body read with a size limit → the request JSON from the form field `request`
 * (urlencoded or multipart/form-data, files for Send) or a raw application/json body → strict
 * schema check (unknown fields: `protocol`) → the method → 200 JSON / bytes, or 400 `{Code,
 * Message}`. Every error is an ApiError caught here once; anything else is logged and becomes
 * `server`. Send with an `Idempotency-Key` header is remembered for 24 h (queue/idempotency.ts).
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Store } from '../store/store.js';
import type { QueueStore } from '../queue/store.js';
import type { IdempotencyStore } from '../queue/idempotency.js';
import type { LoginGuard } from '../auth/login.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/registry.js';
import { Router } from '../web/router.js';
import type { RequestContext } from '../web/listener.js';
import { basicAuth, AuthCache } from '../web/auth.js';
import { readBody, parseForm, parseContentType, type FormFile } from '../web/body.js';
import { HttpError } from '../web/errors.js';
import { sendJson, sendHtml, sendText, redirect } from '../web/respond.js';
import { ApiError } from './errors.js';
import { METHODS, isMethod, type MethodName } from './methods.js';
import { indexPage, methodPage } from './pages.js';
import { openapiDocument } from './openapi.js';
import * as sup from './suppressions.js';
import * as msg from './messages.js';
import { prepareSend, submitPrepared, saveSentCopy, type SendDeps, type SendContext } from './send.js';
import type { SendRequestT, SendResultT } from './types.js';

/** Base64 grows data by 4/3; JSON/form encoding of base64 adds a few percent (+ and / escaped in urlencoded forms). */
const BASE64_OVERHEAD = 4 / 3;
const FORM_OVERHEAD = 1.1;
/** Room for the JSON fields besides the message content (addresses, headers, ...). */
const REQUEST_SLACK = 1024 * 1024;
/** Request bodies of methods other than Send are small. */
export const MAX_SMALL_REQUEST = 1024 * 1024;
/** Longest Idempotency-Key (as Stripe). */
export const MAX_IDEMPOTENCY_KEY = 255;

/** Largest Send request body for a maximum message size. */
export function maxSendBody(maxMessageSize: number): number {
  return Math.ceil(maxMessageSize * BASE64_OVERHEAD * FORM_OVERHEAD) + REQUEST_SLACK;
}

export interface WebapiDeps extends SendDeps {
  queue: QueueStore;
  store: Store;
  loginGuard: LoginGuard;
  idempotency: IdempotencyStore;
  log: Logger;
  metrics?: Metrics;
}

type Result = { json: unknown; headers?: Record<string, string> } | { bytes: AsyncIterable<Buffer> | Buffer; size?: number; contentType?: string };

export function webapiHandler(d: WebapiDeps): (req: IncomingMessage, res: ServerResponse, ctx: RequestContext) => void | Promise<void> {
  const router = new Router();
  const inflight = new Map<string, Promise<SendResultT>>();
  const openapi = new Map<string, string>();
  const authCache = new AuthCache();
  // Child loggers per listener logger, method and account, made once (a pino child per request was
  // a noticeable part of a Send); bounded by dropping them all when there are many.
  const callLogs = new WeakMap<Logger, Map<string, Logger>>();
  const callLog = (parent: Logger, method: string, account: string): Logger => {
    let m = callLogs.get(parent);
    if (!m) callLogs.set(parent, (m = new Map()));
    const k = `${method}\0${account}`;
    let l = m.get(k);
    if (!l) {
      if (m.size >= 10_000) m.clear();
      l = parent.child({ method, account });
      m.set(k, l);
    }
    return l;
  };
  router.get('', (_req, res, ctx) => redirect(res, 303, `${ctx.base}v0/`));
  router.get('v0/', (_req, res) => sendHtml(res, 200, indexPage()));
  router.get('v0/openapi.json', (_req, res, ctx) => {
    let doc = openapi.get(ctx.base);
    if (!doc) {
      doc = JSON.stringify(openapiDocument(ctx.base, d.version), null, 2);
      openapi.set(ctx.base, doc);
    }
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(doc)) }).end(doc);
  });
  router.get('v0/:method', (_req, res, _ctx, p) => {
    if (!isMethod(p.method!)) return sendText(res, 404, '404 - unknown method');
    sendHtml(res, 200, methodPage(p.method));
  });
  router.post('v0/:method', (req, res, ctx, p) => call(req, res, ctx, p.method!));

  const writeError = (res: ServerResponse, ctx: RequestContext, method: string, e: ApiError, close = false) => {
    d.metrics?.webapiResults.inc({ method, result: e.code });
    if (e.code === 'server') ctx.log.error({ method, code: e.code, err: e.message }, 'webapi call failed');
    else ctx.log.debug({ method, code: e.code, msg: e.message }, 'webapi call error');
    sendJson(res, 400, { Code: e.code, Message: e.message }, close ? { Connection: 'close' } : {});
  };

  const call = async (req: IncomingMessage, res: ServerResponse, ctx: RequestContext, method: string): Promise<void> => {
    if (!isMethod(method)) return sendText(res, 404, '404 - unknown method');
    const t0 = process.hrtime.bigint();
    const auth = await basicAuth(req, { guard: d.loginGuard, ip: ctx.ip, protocol: 'webapi', cache: authCache });
    if (!auth.ok) {
      d.metrics?.webapiResults.inc({ method, result: auth.reason === 'ratelimited' ? 'ratelimited' : 'badauth' });
      if (auth.status === 429) return sendText(res, 429, '429 - too many auth attempts');
      if (auth.status === 500) return writeError(res, ctx, method, new ApiError('server', auth.message));
      return sendText(res, 401, `401 - unauthorized - ${auth.message}`, { 'WWW-Authenticate': 'Basic realm="webapi"' });
    }
    const log = callLog(ctx.log, method, auth.account);
    try {
      const { request, files } = await readRequest(req, method);
      const r = await dispatch(method, request, files, { ...ctx, log }, auth.account, auth.username, req);
      d.metrics?.webapiResults.inc({ method, result: 'ok' });
      if ('json' in r) {
        sendJson(res, 200, r.json, r.headers);
      } else {
        const headers: Record<string, string> = {};
        if (r.contentType) headers['Content-Type'] = r.contentType;
        if (Buffer.isBuffer(r.bytes)) {
          headers['Content-Length'] = String(r.bytes.length);
          res.writeHead(200, headers).end(r.bytes);
        } else {
          if (r.size !== undefined) headers['Content-Length'] = String(r.size);
          res.writeHead(200, headers);
          for await (const chunk of r.bytes) {
            if (!res.write(chunk)) await new Promise<void>((resolve) => res.once('drain', resolve).once('close', resolve));
            if (res.destroyed) return;
          }
          res.end();
        }
      }
    } catch (err) {
      if (res.headersSent) {
        log.warn({ err }, 'webapi: error while streaming a response');
        res.destroy();
        return;
      }
      if (err instanceof ApiError) return writeError(res, ctx, method, err);
      if (err instanceof HttpError) {
        const code = err.status === 413 && method === 'Send' ? 'messageTooLarge' : 'protocol';
        return writeError(res, ctx, method, new ApiError(code, err.message), err.headers['Connection'] === 'close');
      }
      log.error({ err }, 'webapi: unhandled error');
      return writeError(res, ctx, method, new ApiError('server', 'internal server error'));
    } finally {
      d.metrics?.webapiDuration.observe({ method }, Number(process.hrtime.bigint() - t0) / 1e9);
    }
  };

  /** The request JSON (parsed, schema-checked) and uploaded files. */
  const readRequest = async (req: IncomingMessage, method: MethodName): Promise<{ request: unknown; files: FormFile[]; raw: string } & Record<string, unknown>> => {
    const ctHeader = req.headers['content-type'];
    const ct = parseContentType(ctHeader);
    if (!ct) throw new ApiError('protocol', `unknown content-type ${JSON.stringify(ctHeader ?? '')}`);
    const limit = method === 'Send' ? maxSendBody(d.maxMessageSize) : MAX_SMALL_REQUEST;
    const body = await readBody(req, limit);
    let raw: string;
    let files: FormFile[] = [];
    if (ct.type === 'application/json') raw = body.toString('utf8');
    else {
      let form;
      try {
        form = parseForm(ctHeader, body);
      } catch (err) {
        if (err instanceof HttpError) throw new ApiError('protocol', `parsing form: ${err.message}`);
        throw err;
      }
      if (!form) throw new ApiError('protocol', `unknown content-type ${JSON.stringify(ctHeader ?? '')}`);
      raw = form.fields.get('request')?.[0] ?? '';
      files = form.files;
      if (files.length && method !== 'Send') throw new ApiError('protocol', 'file uploads are only accepted by Send');
    }
    if (!raw) throw new ApiError('protocol', 'missing/empty request');
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (err) {
      throw new ApiError('protocol', `parsing request: ${(err as Error).message}`);
    }
    const parsed = METHODS[method].request.safeParse(json);
    if (!parsed.success) {
      const i = parsed.error.issues[0]!;
      const where = i.path.length ? ` at ${i.path.map(String).join('.')}` : '';
      throw new ApiError('protocol', `parsing request: ${i.message}${where}`);
    }
    return { request: parsed.data, files, raw };
  };

  const dispatch = async (method: MethodName, request: unknown, files: FormFile[], ctx: RequestContext, account: string, username: string, req: IncomingMessage): Promise<Result> => {
    const q = d.queue;
    const acc = () => d.store.account(account);
    type R = Record<string, unknown>;
    switch (method) {
      case 'SuppressionList':
        return { json: sup.suppressionList(q, account) };
      case 'SuppressionAdd':
        return { json: sup.suppressionAdd(q, account, request as R) };
      case 'SuppressionRemove':
        return { json: sup.suppressionRemove(q, account, request as R) };
      case 'SuppressionPresent':
        return { json: sup.suppressionPresent(q, account, request as R) };
      case 'MessageGet':
        return { json: await msg.messageGet(acc(), request as R) };
      case 'MessageRawGet': {
        const r = msg.messageRawGet(acc(), request as R);
        return { bytes: r.stream, size: r.size, contentType: 'text/plain' };
      }
      case 'MessagePartGet':
        return { bytes: await msg.messagePartGet(acc(), request as R) };
      case 'MessageDelete':
        return { json: msg.messageDelete(acc(), request as R) };
      case 'MessageFlagsAdd':
        return { json: msg.messageFlags(acc(), request as R, 'add') };
      case 'MessageFlagsRemove':
        return { json: msg.messageFlags(acc(), request as R, 'remove') };
      case 'MessageMove':
        return { json: msg.messageMove(acc(), request as R) };
      case 'Send': {
        const sctx: SendContext = { account, loginAddress: username, ip: ctx.ip, secure: ctx.secure, files };
        const key = req.headers['idempotency-key'];
        if (key === undefined) return { json: await submitPrepared(d, sctx, prepareSend(d, sctx, request as SendRequestT), request as SendRequestT) };
        return send(sctx, request as SendRequestT, Array.isArray(key) ? key.join(',') : key, ctx.log);
      }
    }
  };

  /** Send with an Idempotency-Key. */
  const send = async (sctx: SendContext, request: SendRequestT, key: string, log: Logger): Promise<Result> => {
    // eslint-disable-next-line no-control-regex
    if (!key || key.length > MAX_IDEMPOTENCY_KEY || !/^[\x20-\x7e]+$/.test(key)) {
      throw new ApiError('protocol', `Idempotency-Key must be 1 to ${MAX_IDEMPOTENCY_KEY} printable ASCII characters`);
    }
    const h = createHash('sha256').update(JSON.stringify(request));
    for (const f of sctx.files) h.update(`\0${f.field}\0${f.filename}\0${f.contentType}\0${f.contentId}\0`).update(f.data);
    const hash = h.digest('hex');
    const mapKey = `${sctx.account}\0${key}`;
    const replayed = { 'Idempotent-Replayed': 'true' };
    const running = inflight.get(mapKey);
    if (running) return { json: await running, headers: replayed };
    const row = d.idempotency.get(sctx.account, key);
    if (row && row.requestHash !== hash) throw new ApiError('user', 'Idempotency-Key was already used for a different request');
    if (row?.result) return { json: JSON.parse(row.result) as SendResultT, headers: replayed };
    if (row) {
      // Left pending by an earlier process: did its submission commit?
      const found = d.idempotency.recover(row);
      if (found.length) {
        const result: SendResultT = {
          MessageID: row.messageId,
          Submissions: found.map((f, i) => ({ Address: row.addresses[i] ?? f.recipient, QueueMsgID: f.id, FromID: f.fromId ?? '' })),
        };
        d.idempotency.finish(sctx.account, key, JSON.stringify(result));
        log.info({ key, messageId: row.messageId }, 'idempotent send recovered after restart');
        return { json: result, headers: replayed };
      }
      d.idempotency.abort(sctx.account, key);
    }
    const prepared = prepareSend(d, sctx, request);
    const p = (async () => {
      d.idempotency.begin({ account: sctx.account, key, requestHash: hash, messageId: prepared.messageId, addresses: prepared.recipients.map((r) => r.given) });
      let result: SendResultT;
      try {
        result = await submitPrepared(d, sctx, prepared, { ...request, SaveSent: false });
      } catch (err) {
        d.idempotency.abort(sctx.account, key);
        throw err;
      }
      d.idempotency.finish(sctx.account, key, JSON.stringify(result));
      return result;
    })();
    inflight.set(mapKey, p);
    try {
      const result = await p;
      // After the key is recorded: a SaveSent failure (sentOverQuota) leaves the message queued.
      if (request.SaveSent) await saveSentCopy(d, sctx, prepared, d.clock());
      return { json: result };
    } finally {
      inflight.delete(mapKey);
    }
  };

  return (req, res, ctx) => router.handle(req, res, ctx);
}
