/**
 * A small router for a service's subpaths: routes are (method, pattern) with literal segments and
 * `:name` parameters (one segment each); the first matching pattern wins. A path that matches a
 * pattern under another method gives 405 with `Allow`; no match gives 404. HEAD is served by GET
 * routes (node:http drops the body).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestContext } from './listener.js';
import { sendText } from './respond.js';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse, ctx: RequestContext, params: Record<string, string>) => void | Promise<void>;

interface Route {
  method: string;
  segments: string[];
  handler: RouteHandler;
}

/** Segments of a subpath ("v0/Send" → ["v0", "Send"]; "v0/" → ["v0", ""]). */
function split(path: string): string[] {
  return path.split('/');
}

export class Router {
  private readonly routes: Route[] = [];

  add(method: string, pattern: string, handler: RouteHandler): this {
    this.routes.push({ method: method.toUpperCase(), segments: split(pattern), handler });
    return this;
  }

  get(pattern: string, h: RouteHandler): this {
    return this.add('GET', pattern, h);
  }

  post(pattern: string, h: RouteHandler): this {
    return this.add('POST', pattern, h);
  }

  /** Parameters of a pattern match, or undefined. Parameter values are percent-decoded. */
  static match(segments: readonly string[], path: readonly string[]): Record<string, string> | undefined {
    if (segments.length !== path.length) return undefined;
    const params: Record<string, string> = {};
    for (let i = 0; i < segments.length; i++) {
      const s = segments[i]!;
      const p = path[i]!;
      if (s.startsWith(':')) {
        if (!p) return undefined;
        try {
          params[s.slice(1)] = decodeURIComponent(p);
        } catch {
          return undefined;
        }
      } else if (s !== p) return undefined;
    }
    return params;
  }

  /** Dispatch a request on ctx.subpath. */
  handle(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): void | Promise<void> {
    const path = split(ctx.subpath);
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    const allowed = new Set<string>();
    for (const r of this.routes) {
      const params = Router.match(r.segments, path);
      if (!params) continue;
      if (r.method === method) return r.handler(req, res, ctx, params);
      allowed.add(r.method);
    }
    if (allowed.size) {
      sendText(res, 405, '405 - method not allowed', { Allow: [...allowed].join(', ') });
      return;
    }
    sendText(res, 404, '404 - not found');
  }
}
