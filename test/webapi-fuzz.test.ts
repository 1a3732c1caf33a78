/**
 * Fuzz/property test of the webapi: random and truncated JSON, wrong types, unknown and huge
 * fields, random form bodies and content types, at every method. Every answer is a well-formed
 * 200 or a 400 `{Code, Message}` (never 5xx), and the server keeps serving.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { startWebapiServer, post, basic, PASSWORD, type WebapiTestServer } from './helpers/webapi.js';
import { METHOD_NAMES, METHODS } from '../webapi/methods.js';
import { ERROR_CODES } from '../webapi/errors.js';

let ts: WebapiTestServer;
before(async () => {
  ts = await startWebapiServer({ listener: { SMTPMaxMessageSize: 100_000 } });
});
after(async () => {
  await ts.stop();
});

const auth = () => ({ authorization: basic('mjl@example.com', PASSWORD) });

/** A value for a field: sometimes right-ish, often wrong. */
const fieldValue = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(fc.string(), fc.integer(), fc.record({ Address: fc.string(), Name: fc.string() })), { maxLength: 4 }),
  fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }),
  fc.constant('x'.repeat(70_000)),
  fc.array(fc.tuple(fc.string(), fc.string()), { maxLength: 3 }),
  fc.constantFrom('mjl@example.com', 'a@remote.example', '2026-01-01T00:00:00Z', '<id@x>', '\\seen', 'Inbox', '', '\r\n'),
);

function requestFor(method: (typeof METHOD_NAMES)[number]) {
  const fields = Object.keys(((METHODS[method].request as unknown) as { shape: Record<string, unknown> }).shape ?? {});
  return fc.oneof(
    // Known fields with random values, sometimes plus an unknown one.
    fc.record(Object.fromEntries(fields.map((f) => [f, fieldValue])), { requiredKeys: [] }),
    fc.tuple(fc.record(Object.fromEntries(fields.map((f) => [f, fieldValue])), { requiredKeys: [] }), fc.string({ minLength: 1 })).map(([o, k]) => ({ ...o, [k]: 1 })),
    fc.jsonValue(),
  );
}

function isGoodAnswer(status: number, text: string, headers: Record<string, unknown>): boolean {
  if (status === 200) return true;
  if (status !== 400) return false;
  assert.match(String(headers['content-type']), /^application\/json/);
  const e = JSON.parse(text) as { Code: string; Message: string };
  assert.ok((ERROR_CODES as readonly string[]).includes(e.Code), text);
  assert.notEqual(e.Code, 'server', text);
  assert.equal(typeof e.Message, 'string');
  return true;
}

test('random requests at every method: 200 or 400 with a known code, never 5xx', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...METHOD_NAMES).chain((m) => fc.tuple(fc.constant(m), requestFor(m), fc.constantFrom('form', 'json', 'truncated', 'multipart'), fc.nat())),
      async ([method, req, enc, cut]) => {
        const json = JSON.stringify(req) ?? 'null';
        let body: string;
        let ct: string;
        if (enc === 'json') {
          body = json;
          ct = 'application/json';
        } else if (enc === 'truncated') {
          body = json.slice(0, cut % (json.length + 1));
          ct = 'application/json';
        } else if (enc === 'multipart') {
          body = `--b\r\nContent-Disposition: form-data; name="request"\r\n\r\n${json}\r\n--b--\r\n`;
          ct = 'multipart/form-data; boundary=b';
        } else {
          body = new URLSearchParams({ request: json }).toString();
          ct = 'application/x-www-form-urlencoded';
        }
        const r = await post(`${ts.base}v0/${method}`, body, { 'content-type': ct, ...auth() });
        assert.ok(isGoodAnswer(r.status, r.text, r.headers), `${method} ${enc} ${json.slice(0, 200)} -> ${r.status} ${r.text.slice(0, 200)}`);
      },
    ),
    { numRuns: 400 },
  );
});

test('random bytes and content types: 400 protocol, never 5xx', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...METHOD_NAMES),
      fc.uint8Array({ maxLength: 2000 }),
      fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'multipart/form-data', 'text/plain', '', 'garbage;;;=', 'multipart/form-data; boundary="' + 'y'.repeat(300) + '"'),
      async (method, bytes, ct) => {
        const headers: Record<string, string> = { ...auth() };
        if (ct) headers['content-type'] = ct;
        const r = await post(`${ts.base}v0/${method}`, Buffer.from(bytes), headers);
        assert.ok(isGoodAnswer(r.status, r.text, r.headers), `${method} ${ct} -> ${r.status} ${r.text.slice(0, 200)}`);
      },
    ),
    { numRuns: 200 },
  );
});

test('the server still serves after the fuzzing', async () => {
  const r = await ts.client().suppressionPresent({ EmailAddress: 'x@remote.example' });
  assert.deepEqual(r, { Present: false });
  const s = await ts.client().send({ To: [{ Address: 'a@remote.example' }], Text: 'still alive' });
  assert.equal(s.Submissions.length, 1);
});
