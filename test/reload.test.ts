/**
 * domains.conf changes reach the running server: an account added (and removed) with the config
 * writer is accepted (and refused) at RCPT after a reload through the control socket, and a
 * broken domains.conf is refused while the old config keeps working.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer } from './helpers/server.js';
import { RawSmtp } from './helpers/smtp-client.js';
import { addAccount, removeAccount } from '../config/write.js';
import { ctlCall } from '../cmd/ctl.js';

/** Reload through ctl; the file watcher may have picked the change up first ("unchanged" then). */
async function reload(ctlPath: string): Promise<void> {
  const r = await ctlCall(ctlPath, 'reload');
  assert.ok(r === 'changed' || r === 'unchanged', String(r));
}

async function rcpt(port: number, to: string): Promise<number> {
  const c = await RawSmtp.connect(port);
  await c.reply();
  await c.cmd('EHLO client.example');
  await c.cmd('MAIL FROM:<s@remote.example>');
  const r = await c.cmd(`RCPT TO:<${to}>`);
  c.close();
  return r.code;
}

test('account changes in domains.conf apply to SMTP after a reload; a broken file keeps the old config', async () => {
  const ts = await startTestServer();
  try {
    const f = { path: join(ts.dir, 'domains.conf'), static: ts.server.loaded.static };
    assert.equal(await rcpt(ts.smtpPort, 'new@example.com'), 550);
    await addAccount(f, 'newacct', 'new@example.com');
    await reload(ts.server.ctlPath);
    assert.equal(await rcpt(ts.smtpPort, 'new@example.com'), 250);

    const good = readFileSync(f.path, 'utf8');
    writeFileSync(f.path, good + '\nAccounts: [broken\n');
    await assert.rejects(ctlCall(ts.server.ctlPath, 'reload'), /not reloaded, old config kept: .*domains\.conf:\d+/);
    assert.equal(await rcpt(ts.smtpPort, 'new@example.com'), 250, 'old config still in effect');

    writeFileSync(f.path, good);
    await removeAccount(f, 'newacct');
    await reload(ts.server.ctlPath);
    assert.equal(await rcpt(ts.smtpPort, 'new@example.com'), 550);
    assert.equal(ts.server.dynamic().Accounts.newacct, undefined);
  } finally {
    await ts.stop();
  }
});
