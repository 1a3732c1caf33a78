import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, newCid } from './logger.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const dest = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, dest };
}

test('secrets are redacted at top level and one level down', () => {
  const { lines, dest } = capture();
  const log = createLogger({ level: 'info', destination: dest });
  log.info({ password: 'hunter2', account: { secret: 's3cr3t', name: 'mjl' } }, 'login');
  assert.equal(lines.length, 1);
  const text = JSON.stringify(lines[0]);
  assert.ok(!text.includes('hunter2'));
  assert.ok(!text.includes('s3cr3t'));
  assert.equal((lines[0]!.account as { name: string }).name, 'mjl');
});

test('child loggers carry cid and traceauth sits below trace', () => {
  const { lines, dest } = capture();
  const log = createLogger({ level: 'trace', destination: dest });
  const child = log.child({ cid: newCid(), proto: 'smtp' });
  child.trace('visible');
  child.traceauth('hidden at trace level');
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.proto, 'smtp');
  assert.equal(typeof lines[0]!.cid, 'string');
});

test('cids are unique', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 1000; i++) seen.add(newCid());
  assert.equal(seen.size, 1000);
});
