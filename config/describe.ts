/**
 * Annotated YAML templates generated from the zod schemas, so the documentation cannot drift
 * from what the loader accepts: every key with its `.describe()` text as `#` comments, its type,
 * whether it is required, and its default. Printed by `moxts config describe-static` and
 * `moxts config describe-domains`. The output is valid YAML (placeholders for values).
 */
import * as z from 'zod';
import { stringify } from 'yaml';
import { StaticConfigSchema } from './static-schema.js';
import { DynamicConfigSchema } from './dynamic-schema.js';
import { formatDuration } from './duration.js';

const WIDTH = 100;

/** Example names used for the keys of user-named mappings, by the mapping's key. */
const EXAMPLE_NAMES: Record<string, string> = {
  Listeners: 'public',
  Transports: 'smarthost',
  PackageLogLevels: 'smtp',
  Domains: 'example.com',
  Accounts: 'mjl',
  Destinations: 'mjl@example.com',
  Selectors: '2024a',
  Aliases: 'team',
  HeadersRegexp: 'list-id',
};

interface Unwrapped {
  descriptions: string[];
  optional: boolean;
  hasDefault: boolean;
  defaultValue?: unknown;
  duration: boolean;
  schema: z.ZodType;
}

type AnyDef = { type: string; [k: string]: unknown };
const defOf = (s: z.ZodType): AnyDef => (s as unknown as { def: AnyDef }).def;

function unwrap(schema: z.ZodType): Unwrapped {
  const u: Unwrapped = { descriptions: [], optional: false, hasDefault: false, duration: false, schema };
  let s = schema;
  for (;;) {
    if (s.description && !u.descriptions.includes(s.description)) u.descriptions.push(s.description);
    if ((s.meta() as { format?: string } | undefined)?.format === 'duration') u.duration = true;
    const def = defOf(s);
    if (def.type === 'optional' || def.type === 'nullable') {
      u.optional = true;
      s = def.innerType as z.ZodType;
    } else if (def.type === 'default') {
      u.hasDefault = true;
      u.defaultValue = def.defaultValue;
      s = def.innerType as z.ZodType;
    } else if (def.type === 'pipe') {
      s = def.in as z.ZodType;
    } else break;
  }
  u.schema = s;
  return u;
}

function typeName(u: Unwrapped): string {
  const def = defOf(u.schema);
  switch (def.type) {
    case 'string':
      return u.duration ? 'duration (e.g. "15s", "7.5m", "1h30m", "72h")' : 'string';
    case 'number':
      return 'number';
    case 'boolean':
      return 'bool';
    case 'enum':
      return `one of ${Object.values(def.entries as Record<string, string>).join(', ')}`;
    case 'array':
      return `list of ${typeName(unwrap(def.element as z.ZodType))}`;
    case 'record':
      return `mapping of names to ${typeName(unwrap(def.valueType as z.ZodType))}`;
    case 'object':
      return 'mapping';
    default:
      return def.type;
  }
}

function scalarText(v: unknown): string {
  return stringify(v, { lineWidth: 0 }).trimEnd();
}

function formatDefault(u: Unwrapped): string {
  const v = u.defaultValue;
  if (u.duration && typeof v === 'number') return JSON.stringify(formatDuration(v));
  if (typeof v === 'object') return JSON.stringify(v);
  return scalarText(v);
}

function placeholder(u: Unwrapped): string {
  if (u.hasDefault && (typeof u.defaultValue !== 'object' || u.defaultValue === null)) {
    return u.duration && typeof u.defaultValue === 'number' ? scalarText(formatDuration(u.defaultValue)) : scalarText(u.defaultValue);
  }
  const def = defOf(u.schema);
  switch (def.type) {
    case 'string':
      return u.duration ? '0s' : '""';
    case 'number':
      return '0';
    case 'boolean':
      return 'false';
    case 'enum':
      return scalarText(Object.values(def.entries as Record<string, string>)[0]);
    default:
      return '""';
  }
}

function wrap(text: string, indent: string): string[] {
  const out: string[] = [];
  for (const para of text.split('\n')) {
    let line = '';
    for (const word of para.split(/\s+/).filter(Boolean)) {
      if (line && indent.length + 2 + line.length + 1 + word.length > WIDTH) {
        out.push(`${indent}# ${line}`);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    out.push(line ? `${indent}# ${line}` : `${indent}#`);
  }
  return out;
}

function comments(u: Unwrapped, indent: string, recordValue = false): string[] {
  const lines: string[] = [];
  for (const d of u.descriptions) lines.push(...wrap(d, indent));
  let info = `(${typeName(u)}`;
  if (!recordValue) info += `; ${u.optional || u.hasDefault ? 'optional' : 'required'}`;
  if (u.hasDefault) info += `; default ${formatDefault(u)}`;
  info += ')';
  lines.push(...wrap(info, indent));
  return lines;
}

function isContainer(u: Unwrapped): boolean {
  const t = defOf(u.schema).type;
  return t === 'object' || t === 'record' || t === 'array';
}

/** Emit the value part for `key` (already commented) at `indent`. */
function emitField(out: string[], key: string, u: Unwrapped, indent: string): void {
  const def = defOf(u.schema);
  const k = scalarText(key);
  if (def.type === 'object') {
    out.push(`${indent}${k}:`);
    emitShape(out, def.shape as Record<string, z.ZodType>, indent + '  ');
  } else if (def.type === 'record') {
    out.push(`${indent}${k}:`);
    const vu = unwrap(def.valueType as z.ZodType);
    const name = EXAMPLE_NAMES[key] ?? 'x';
    const ci = indent + '  ';
    if (vu.descriptions.length || !isContainer(vu)) out.push(...comments(vu, ci, true));
    emitField(out, name, vu, ci);
  } else if (def.type === 'array') {
    const eu = unwrap(def.element as z.ZodType);
    const edef = defOf(eu.schema);
    out.push(`${indent}${k}:`);
    if (edef.type === 'object') {
      if (eu.descriptions.length) out.push(...wrap(eu.descriptions.join(' '), indent + '  '));
      out.push(`${indent}  -`);
      emitShape(out, edef.shape as Record<string, z.ZodType>, indent + '    ');
    } else {
      out.push(`${indent}  - ${placeholder(eu)}`);
    }
  } else {
    out.push(`${indent}${k}: ${placeholder(u)}`);
  }
}

function emitShape(out: string[], shape: Record<string, z.ZodType>, indent: string): void {
  let first = true;
  for (const [key, field] of Object.entries(shape)) {
    const u = unwrap(field);
    if (!first && indent === '') out.push('');
    first = false;
    out.push(...comments(u, indent));
    emitField(out, key, u, indent);
  }
}

/** An annotated template for any zod object schema. */
export function describeSchema(schema: z.ZodType, header: string): string {
  const out: string[] = [...wrap(header, ''), ''];
  const u = unwrap(schema);
  emitShape(out, defOf(u.schema).shape as Record<string, z.ZodType>, '');
  return out.join('\n') + '\n';
}

/** Annotated template of mox.conf (`moxts config describe-static`). */
export function describeStatic(): string {
  return describeSchema(
    StaticConfigSchema,
    'mox.conf: static configuration of moxts, in YAML with mox key names. Read at start-up only; restart after changes. ' +
      'Generated from the config schema: every key is listed with its type, whether it is required and its default; ' +
      'the values shown are placeholders or defaults. Relative paths are relative to the directory of this file.',
  );
}

/** Annotated template of domains.conf (`moxts config describe-domains`). */
export function describeDomains(): string {
  return describeSchema(
    DynamicConfigSchema,
    'domains.conf: dynamic configuration of moxts (domains, accounts, routes), in YAML with mox key names. ' +
      'Reloaded when the file changes and on SIGHUP; a version with errors is refused and the previous one stays active. ' +
      'Generated from the config schema: every key is listed with its type, whether it is required and its default; ' +
      'the values shown are placeholders or defaults.',
  );
}
