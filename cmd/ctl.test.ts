import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCtl, ctlCall, CtlUnavailableError } from './ctl.js';
import { nullLogger } from '../log/logger.js';

test('ctl: commands, errors, unknown commands, not running, one server only', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moxts-ctl-'));
  const path = join(dir, 'ctl');
  await assert.rejects(ctlCall(path, 'ping'), CtlUnavailableError);
  const srv = await startCtl({
    path,
    log: nullLogger(),
    handlers: {
      ping: () => 'pong',
      add: (a) => (a.x as number) + (a.y as number),
      fail: () => {
        throw new Error('nope');
      },
    },
  });
  assert.equal(await ctlCall(path, 'ping'), 'pong');
  assert.equal(await ctlCall(path, 'add', { x: 2, y: 3 }), 5);
  await assert.rejects(ctlCall(path, 'fail'), /nope/);
  await assert.rejects(ctlCall(path, 'toString'), /unknown command/);
  await assert.rejects(startCtl({ path, log: nullLogger(), handlers: {} }), /already running/);
  await srv.close();
  assert.equal(existsSync(path), false);
  await assert.rejects(ctlCall(path, 'ping'), CtlUnavailableError);
  rmSync(dir, { recursive: true });
});
