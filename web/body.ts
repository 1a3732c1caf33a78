/**
 * Request bodies: reading with an explicit size limit (413 past it, the rest is not read), and
 * form decoding — application/x-www-form-urlencoded (WHATWG URL spec) and multipart/form-data
 * (rfc7578) — into fields and files. Multipart bodies are split by the project's MIME parser
 * (message/part.ts), which never throws and bounds parts and nesting; each part's own header
 * (Content-Disposition name/filename, Content-Type, Content-ID) is kept.
 */
import type { IncomingMessage } from 'node:http';
import { parseBuffer, type Part } from '../message/part.js';
import { parseHeader, parseParamValue } from '../message/header.js';
import { decodeCharset } from '../message/charset.js';
import { HttpError } from './errors.js';

/** A file from a multipart/form-data body. */
export interface FormFile {
  /** Form field name, e.g. "attachedfile". */
  field: string;
  /** filename parameter of the part's Content-Disposition ("" when absent). */
  filename: string;
  /** The part's Content-Type as given ("" when absent). */
  contentType: string;
  /** The part's Content-ID as given ("" when absent). */
  contentId: string;
  data: Buffer;
}

export interface Form {
  /** Field values in order; a field may repeat. */
  fields: Map<string, string[]>;
  files: FormFile[];
}

/** Media type (lower case) and parameters of a Content-Type header; undefined when unparsable. */
export function parseContentType(header: string | undefined): { type: string; params: Record<string, string> } | undefined {
  if (!header) return undefined;
  const pv = parseParamValue(header, (b, cs) => decodeCharset(b, cs));
  const type = pv.value.toLowerCase();
  if (!/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(type)) return undefined;
  return { type, params: pv.params };
}

/**
 * Read the whole body, refusing more than `limit` bytes: a Content-Length above the limit is
 * refused before reading; a chunked body is cut off once past it. 413 in both cases.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    req.resume();
    return Promise.reject(new HttpError(413, `request body larger than ${limit} bytes`, { Connection: 'close' }));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const onData = (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) {
        done = true;
        chunks.length = 0;
        // Stop reading; the listener closes the connection after the 413 (Connection: close).
        req.pause();
        reject(new HttpError(413, `request body larger than ${limit} bytes`, { Connection: 'close' }));
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.once('end', () => {
      if (done) return;
      done = true;
      resolve(Buffer.concat(chunks, size));
    });
    req.once('error', (err) => {
      if (done) return;
      done = true;
      reject(new HttpError(400, `reading request body: ${err.message}`));
    });
    req.once('aborted', () => {
      if (done) return;
      done = true;
      reject(new HttpError(400, 'request aborted'));
    });
  });
}

function addField(form: Form, name: string, value: string): void {
  const l = form.fields.get(name);
  if (l) l.push(value);
  else form.fields.set(name, [value]);
}

/** application/x-www-form-urlencoded; malformed percent escapes are kept literally (WHATWG). */
export function parseUrlencoded(body: Buffer): Form {
  const form: Form = { fields: new Map(), files: [] };
  for (const [k, v] of new URLSearchParams(body.toString('utf8'))) addField(form, k, v);
  return form;
}

/** Longest boundary accepted (rfc2046:5.1.1 says 70; be a bit lenient). */
const MAX_FORM_BOUNDARY = 200;

/** multipart/form-data (rfc7578) with the given boundary. Parts without a name are ignored. */
export function parseMultipart(body: Buffer, boundary: string): Form {
  if (!boundary || boundary.length > MAX_FORM_BOUNDARY || /[\r\n]/.test(boundary)) {
    throw new HttpError(400, 'multipart/form-data without valid boundary parameter');
  }
  // The MIME parser wants a message: give it a header naming the boundary, the form is the body.
  const head = Buffer.from(`Content-Type: multipart/form-data; boundary="${boundary.replace(/["\\]/g, '\\$&')}"\r\n\r\n`, 'latin1');
  const msg = Buffer.concat([head, body]);
  const root = parseBuffer(msg);
  if (root.mediaType !== 'MULTIPART' || root.boundaryMissing || root.boundaryNotFound) {
    throw new HttpError(400, 'malformed multipart/form-data body: boundary not found');
  }
  const form: Form = { fields: new Map(), files: [] };
  const decode = (b: Buffer, cs: string | null) => decodeCharset(b, cs);
  for (const p of root.parts as Part[]) {
    const h = parseHeader(msg.subarray(p.headerOffset, p.bodyOffset));
    const cd = h.get('content-disposition');
    if (!cd) continue;
    const disp = parseParamValue(cd, decode);
    const name = disp.params['name'];
    if (disp.value.toLowerCase() !== 'form-data' || name === undefined) continue;
    const data = msg.subarray(p.bodyOffset, p.endOffset);
    const filename = disp.params['filename'];
    if (filename === undefined) {
      addField(form, name, data.toString('utf8'));
      continue;
    }
    form.files.push({
      field: name,
      filename,
      contentType: h.get('content-type') ?? '',
      contentId: h.get('content-id') ?? '',
      data: Buffer.from(data),
    });
  }
  return form;
}

/** Decode a form body by its Content-Type; undefined for other types. */
export function parseForm(contentType: string | undefined, body: Buffer): Form | undefined {
  const ct = parseContentType(contentType);
  if (ct?.type === 'application/x-www-form-urlencoded') return parseUrlencoded(body);
  if (ct?.type === 'multipart/form-data') return parseMultipart(body, ct.params['boundary'] ?? '');
  return undefined;
}
