/**
 * `moxts config webhook outgoing|incoming|remove|keep` edit domains.conf (validated; bad URLs and
 * event names refused with the file's error), without a running server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTestConfig } from './helpers/server.js';
import { runMoxts } from './helpers/cli.js';
import { loadConfig } from '../config/load.js';

test('config webhook: set outgoing and incoming, keep period, refuse bad values, remove', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moxts-hookcfg-'));
  try {
    await writeTestConfig(dir);
    const conf = join(dir, 'mox.conf');
    const cli = (...a: string[]) => runMoxts(['--config', conf, 'config', 'webhook', ...a]);
    let r = await cli('outgoing', 'mjl', 'https://app.example/out', '--authorization', 'Bearer x', '--events', 'delivered,failed');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'outgoing webhook of mjl set\n');
    r = await cli('incoming', 'mjl', 'http://app.example/in');
    assert.equal(r.code, 0, r.stderr);
    r = await cli('keep', 'mjl', '72h');
    assert.equal(r.code, 0, r.stderr);
    let a = (await loadConfig(conf)).dynamic.Accounts.mjl!;
    assert.deepEqual(a.OutgoingWebhook, { URL: 'https://app.example/out', Authorization: 'Bearer x', Events: ['delivered', 'failed'] });
    assert.deepEqual(a.IncomingWebhook, { URL: 'http://app.example/in' });
    assert.equal(a.KeepRetiredWebhookPeriod, 72 * 3_600_000);
    r = await cli('outgoing', 'mjl', 'ftp://x.example');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /http or https URL/);
    r = await cli('outgoing', 'mjl', 'https://x.example', '--events', 'delivered,exploded');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /exploded/);
    r = await cli('outgoing', 'nobody', 'https://x.example');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no such account/);
    r = await cli('remove', 'mjl', 'incoming');
    assert.equal(r.code, 0, r.stderr);
    a = (await loadConfig(conf)).dynamic.Accounts.mjl!;
    assert.equal(a.IncomingWebhook, undefined);
    assert.equal(a.OutgoingWebhook?.URL, 'https://app.example/out', 'refused edits changed nothing');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
