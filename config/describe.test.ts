import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDocument } from 'yaml';
import type * as z from 'zod';
import { describeStatic, describeDomains } from './describe.js';
import { StaticConfigSchema } from './static-schema.js';
import { DynamicConfigSchema } from './dynamic-schema.js';

type AnyDef = { type: string; [k: string]: unknown };
const defOf = (s: z.ZodType): AnyDef => (s as unknown as { def: AnyDef }).def;

/** All object keys anywhere in a schema, with the description of each. */
function allKeys(schema: z.ZodType, out = new Map<string, string[]>()): Map<string, string[]> {
  const def = defOf(schema);
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
      return allKeys(def.innerType as z.ZodType, out);
    case 'pipe':
      return allKeys(def.in as z.ZodType, out);
    case 'array':
      return allKeys(def.element as z.ZodType, out);
    case 'record':
      return allKeys(def.valueType as z.ZodType, out);
    case 'object':
      for (const [k, v] of Object.entries(def.shape as Record<string, z.ZodType>)) {
        const list = out.get(k) ?? [];
        if (v.description) list.push(v.description);
        out.set(k, list);
        allKeys(v, out);
      }
      return out;
    default:
      return out;
  }
}

for (const [name, fn, schema] of [
  ['describeStatic', describeStatic, StaticConfigSchema],
  ['describeDomains', describeDomains, DynamicConfigSchema],
] as const) {
  test(`${name}: valid YAML with every key, each documented`, () => {
    const text = fn();
    const doc = parseDocument(text);
    assert.deepEqual(doc.errors, [], String(doc.errors));
    assert.ok(doc.toJS() && typeof doc.toJS() === 'object');
    const lines = text.split('\n');
    const keys = allKeys(schema);
    assert.ok(keys.size > 20);
    for (const [key, descs] of keys) {
      const i = lines.findIndex((l) => new RegExp(`^\\s*${key}:( |$)`).test(l));
      assert.ok(i > 0, `key ${key} missing`);
      // Directly preceded by comments: the description and a "(type; required|optional…)" line.
      assert.match(lines[i - 1]!, /^\s*# .*\)$/, `key ${key} has no type line`);
      assert.ok(descs.length > 0, `key ${key} has no .describe() text in the schema`);
      const firstWords = descs[0]!.split(/\s+/).slice(0, 3).join(' ');
      const before = lines.slice(Math.max(0, i - 12), i).join(' ').replace(/\s*#\s*/g, ' ');
      assert.ok(before.includes(firstWords), `description of ${key} missing near it: ${firstWords}`);
    }
  });
}

test('describe shows defaults, durations and required keys', () => {
  const s = describeStatic();
  assert.match(s, /# \(number; optional; default 25\)\n\s+Port: 25\n/);
  assert.match(s, /# \(duration \(e\.g\. "15s".*\); optional; default "15s"\)\n\s+FirstTimeSenderDelay: 15s\n/);
  assert.match(s, /# \(string; required\)\nDataDir: ""\n/);
  assert.match(s, /default \/webapi\/\)\n\s+Path: \/webapi\/\n/);
  const d = describeDomains();
  assert.match(d, /# \(number; optional; default 1000\)\n\s+MaxOutgoingMessagesPerDay: 1000\n/);
  assert.match(d, /default Inbox\)\n\s+Mailbox: Inbox\n/);
  assert.match(d, /complained/);
});
