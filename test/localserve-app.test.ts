/**
 * localserve as a developer uses it, through the CLI in a child process: the banner's curl
 * example for webapi Send (run verbatim with curl), the example application (examples/app.mjs)
 * sending through the webapi and verifying the signed webhooks it receives, and a restart on the
 * existing directory that keeps config and mail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { runMoxts, startMoxts, type Running } from './helpers/cli.js';
import { addWebhooks } from './helpers/localserve.js';
import { WebapiClient } from '../webapi/client.js';

const APP = fileURLToPath(new URL('../../examples/app.mjs', import.meta.url));

/** A port nobody listens on right now (the example app takes a fixed port, as apps do). */
async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as { port: number };
  s.close();
  await once(s, 'close');
  return port;
}

/** Servers started by the test; killed at its end if a failure left them running. */
const started: Running[] = [];

async function startServer(dir: string): Promise<{ ls: Running; banner: string; webapiPort: number }> {
  const ls = startMoxts(['localserve', '-dir', dir]);
  started.push(ls);
  await ls.waitFor(/Stop with Ctrl-C/);
  const banner = ls.stdout.join('\n');
  const webapiPort = Number(/webapi\s+http:\/\/localhost:(\d+)\/webapi\/v0\//.exec(banner)?.[1]);
  assert.ok(webapiPort > 0, banner);
  return { ls, banner, webapiPort };
}

async function stopServer(ls: Running): Promise<void> {
  ls.child.kill('SIGINT');
  assert.deepEqual(await ls.exited, { code: 0, signal: null });
}

test('banner curl, the example app with verified webhooks, restart keeps config and mail', { timeout: 120_000 }, async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'moxts-lsapp-')), 'ls');
  try {
    const init = await runMoxts(['localserve', '-dir', dir, '-initonly', '--random-ports']);
    assert.equal(init.code, 0, init.stderr);
    const appPort = await freePort();
    addWebhooks(dir, `http://127.0.0.1:${appPort}`);
    const { ls, banner, webapiPort } = await startServer(dir);

    // The banner's curl example, run as printed.
    const curlLines = banner.split('\n').filter((l, i, all) => /^\s+curl /.test(l) || /^\s+curl /.test(all[i - 1] ?? ''));
    assert.equal(curlLines.length, 2, banner);
    const curl = curlLines.join('\n');
    const out = await promisify(execFile)('sh', ['-c', curl]);
    const sent = JSON.parse(out.stdout) as { MessageID: string; Submissions: Array<{ Address: string; QueueMsgID: number }> };
    assert.equal(sent.Submissions[0]!.Address, 'someone@localhost');

    // The example app: sends, then prints each webhook once its signature checked out.
    const secret = await runMoxts(['--config', join(dir, 'mox.conf'), 'queue', 'webhook', 'secret', 'mox']);
    assert.equal(secret.code, 0, secret.stderr);
    const app = spawn(process.execPath, [APP, 'friend@localhost'], {
      env: { ...process.env, MOXTS_WEBAPI: `http://localhost:${webapiPort}/webapi/v0/`, WEBHOOK_SECRET: secret.stdout.trim(), PORT: String(appPort) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines: string[] = [];
    let msgId = 0;
    // The app prints a webhook's line before it answers 200: it keeps running (and its output
    // keeps being read) until the server has counted the answers, or a kill could turn the last
    // answer into a failed request.
    const seen = new Promise<void>((resolve, reject) => {
      createInterface({ input: app.stdout! }).on('line', (line) => {
        lines.push(line);
        if (/bad signature/.test(line)) reject(new Error(line));
        const m = /^webhook incoming: message (\d+) from mox@localhost subject "hello from examples\/app.mjs"/.exec(line);
        if (m) msgId = Number(m[1]);
        if (msgId && lines.some((l) => /^webhook outgoing: delivered queue message \d+$/.test(l))) resolve();
      });
      app.on('exit', () => reject(new Error(`app exited:\n${lines.join('\n')}`)));
    });
    try {
      await seen;
      assert.ok(msgId > 0, lines.join('\n'));
      assert.match(lines.join('\n'), /^sent: message ID <.*@localhost>, queue message \d+$/m);

      // The banner's metrics URL (port 1081 unless --random-ports), read with curl: the delivery
      // and the webhooks are counted.
      const metricsUrl = /^\s+metrics\s+(http:\/\/localhost:\d+\/metrics)$/m.exec(banner)?.[1];
      assert.ok(metricsUrl, banner);
      const wanted = ['moxts_queue_attempts_total{result="delivered"}', 'moxts_smtp_messages_total{service="smtp",result="accepted"}', 'moxts_webapi_results_total{method="Send",result="ok"}', 'moxts_webhook_requests_total{result="ok"}'];
      // Two messages sent (banner curl, app), each delivered over SMTP; the app answered at least
      // two webhooks (its message's incoming and outgoing). The last results may be counted just
      // after the app saw them: read until they are (the deadline only bounds a failing run).
      for (let deadline = Date.now() + 60_000; ; ) {
        const metrics = (await promisify(execFile)('curl', ['-sS', '--fail', metricsUrl])).stdout;
        const value = (series: string) => Number(metrics.split('\n').find((l) => l.startsWith(`${series} `))?.slice(series.length + 1) ?? 0);
        if (wanted.every((w) => value(w) >= 2)) break;
        assert.ok(Date.now() < deadline, `metrics never showed ${wanted.join(', ')} >= 2:\n${metrics}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      app.kill();
    }
    await stopServer(ls);

    // Restart on the same directory: same config, the message still there.
    const conf = readFileSync(join(dir, 'mox.conf'), 'utf8');
    const again = await startServer(dir);
    assert.equal(readFileSync(join(dir, 'mox.conf'), 'utf8'), conf);
    const api = new WebapiClient({ baseURL: `http://127.0.0.1:${again.webapiPort}/webapi/v0/`, username: 'mox@localhost', password: 'moxmoxmox' });
    const got = await api.messageGet({ MsgID: msgId });
    assert.equal(got.Message.Subject, 'hello from examples/app.mjs');
    await stopServer(again.ls);
  } finally {
    for (const r of started) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }
});
