/**
 * The OpenAPI 3.1 document of the webapi (served at `<base>v0/openapi.json`), generated from the
 * zod schemas in types.ts (zod's toJSONSchema, JSON Schema 2020-12 as OpenAPI 3.1 uses). Every
 * method is `POST /v0/<Method>` taking the request as a JSON body or as the form field `request`.
 */
import * as z from 'zod';
import { METHODS, METHOD_NAMES } from './methods.js';
import { ErrorResult, NESTED_SCHEMAS } from './types.js';

type Json = Record<string, unknown>;

/** Build the document; `serverUrl` is the base path, e.g. "/webapi/". */
export function openapiDocument(serverUrl: string, version: string): Json {
  // Every request/response schema has an id (types.ts .meta({id})); the registry form of
  // toJSONSchema gives each its own component and $refs between them.
  const reg = z.registry<{ id: string }>();
  const ids = new Map<z.ZodType, string>();
  const all = [ErrorResult, ...NESTED_SCHEMAS, ...METHOD_NAMES.flatMap((n) => [METHODS[n].request, METHODS[n].response].filter((s): s is z.ZodType => !!s))];
  for (const s of all) {
    const id = (z.globalRegistry.get(s) as { id?: string } | undefined)?.id;
    if (!id) throw new Error('webapi schema without id');
    if (!reg.has(s)) reg.add(s, { id });
    ids.set(s, id);
  }
  const generated = z.toJSONSchema(reg, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any', uri: (id: string) => `#/components/schemas/${id}` });
  const schemas: Json = {};
  for (const [k, v] of Object.entries(generated.schemas)) {
    const { $schema: _s, $id: _i, ...rest } = v as Json;
    schemas[k] = rest;
  }
  const ref = (s: z.ZodType): Json => ({ $ref: `#/components/schemas/${ids.get(s)!}` });
  const errorRef = ref(ErrorResult);
  const paths: Json = {};
  for (const name of METHOD_NAMES) {
    const m = METHODS[name];
    const req = ref(m.request);
    const ok = m.response
      ? { description: 'Success.', content: { 'application/json': { schema: ref(m.response), example: m.exampleResponse } } }
      : { description: 'The requested bytes.', content: { [name === 'MessageRawGet' ? 'text/plain' : 'application/octet-stream']: { schema: { type: 'string', format: 'binary' } } } };
    const formProps: Json = { request: { type: 'string', description: `JSON of the request (${name}Request).` } };
    if (name === 'Send') {
      for (const f of ['alternativefile', 'inlinefile', 'attachedfile']) formProps[f] = { type: 'array', items: { type: 'string', format: 'binary' } };
    }
    paths[`/v0/${name}`] = {
      post: {
        operationId: name,
        summary: m.description,
        ...(name === 'Send'
          ? {
              parameters: [
                {
                  name: 'Idempotency-Key',
                  in: 'header',
                  required: false,
                  description: 'moxts addition: a repeat with the same key within 24 hours returns the first result and queues nothing. 1-255 printable ASCII characters.',
                  schema: { type: 'string', minLength: 1, maxLength: 255 },
                },
              ],
            }
          : {}),
        requestBody: {
          required: true,
          content: {
            'application/json': { schema: req, example: m.exampleRequest },
            'application/x-www-form-urlencoded': { schema: { type: 'object', required: ['request'], properties: { request: formProps.request } } },
            'multipart/form-data': { schema: { type: 'object', required: ['request'], properties: formProps } },
          },
        },
        responses: {
          '200': ok,
          '400': {
            description: `Error. Codes: protocol, user, server, error${m.errors.length ? ', ' + m.errors.join(', ') : ''}.`,
            content: { 'application/json': { schema: errorRef } },
          },
          '401': { description: 'Missing or wrong credentials (HTTP Basic, email address and password).' },
          '429': { description: 'Too many failed logins from this network.' },
        },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'moxts webapi',
      version: `v0 (moxts ${version})`,
      description: 'HTTP/JSON API compatible with mox webapi v0: send messages, manage the suppression list, read and change received messages.',
    },
    servers: [{ url: serverUrl }],
    security: [{ basic: [] }],
    paths,
    components: { schemas, securitySchemes: { basic: { type: 'http', scheme: 'basic', description: 'Email address of the account and its password.' } } },
  };
}
