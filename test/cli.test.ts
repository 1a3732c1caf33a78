/**
 * The CLI end to end, as an admin uses it: quickstart, config test (good and broken), account and
 * domain edits, DNS records, passwords, serve + stop through the control socket, and localserve
 * start / Ctrl-C / restart with its existing directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMoxts, startMoxts } from './helpers/cli.js';
import { parseDocument } from 'yaml';
import { Store } from '../store/index.js';
import { verifyPassword, type PasswordRecord } from '../auth/password.js';
import { nullLogger } from '../log/logger.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'moxts-cli-'));
}

async function passwordMatches(dataDir: string, account: string, pw: string): Promise<boolean> {
  const store = await Store.open({ dataDir, log: nullLogger() });
  try {
    const rec = store.account(account).getPassword<PasswordRecord>();
    return rec ? await verifyPassword(rec, pw) : false;
  } finally {
    await store.close();
  }
}

test('quickstart writes a valid config, prints password and DNS records; config test passes', async () => {
  const dir = tmp();
  const r = await runMoxts(['quickstart', 'admin@example.test', '--hostname', 'mail.example.test', '--ip', '192.0.2.1'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  const pw = /password:\s+(\S+)/.exec(r.stdout)?.[1];
  assert.ok(pw && pw.length >= 16, r.stdout);
  for (const re of [
    /^example\.test\. 300 IN MX 10 mail\.example\.test\.$/m,
    /^example\.test\. 300 IN TXT "v=spf1 ip4:192\.0\.2\.1 mx ~all"$/m,
    /^\d{4}a\._domainkey\.example\.test\. 300 IN TXT "v=DKIM1;k=ed25519;h=sha256;p=/m,
    /^\d{4}b\._domainkey\.example\.test\. 300 IN TXT "v=DKIM1;k=rsa;h=sha256;p=/m,
    /^_dmarc\.example\.test\. 300 IN TXT "v=DMARC1;p=reject/m,
    /^_smtp\._tls\.example\.test\. 300 IN TXT "v=TLSRPTv1/m,
    /^_mta-sts\.example\.test\. 300 IN TXT "v=STSv1; id=/m,
    /^autoconfig\.example\.test\. 300 IN CNAME mail\.example\.test\.$/m,
  ]) {
    assert.match(r.stdout, re);
  }
  const t = await runMoxts(['config', 'test'], { cwd: dir });
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /config OK/);
  assert.ok(await passwordMatches(join(dir, 'data'), 'admin', pw!), 'account password stored');
  // The records command prints the same DKIM records from the config.
  const d = await runMoxts(['config', 'dnsrecords', 'example.test'], { cwd: dir });
  assert.equal(d.code, 0, d.stderr);
  const dkimOf = (s: string) => s.split('\n').filter((l) => l.includes('_domainkey')).sort();
  assert.deepEqual(dkimOf(d.stdout), dkimOf(r.stdout));
  // A second quickstart refuses to overwrite.
  const again = await runMoxts(['quickstart', 'other@example.test'], { cwd: dir });
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already exists/);
  rmSync(dir, { recursive: true });
});

test('a broken config is refused with file, line and key', async () => {
  const dir = tmp();
  assert.equal((await runMoxts(['quickstart', 'admin@example.test', '--ip', '192.0.2.1'], { cwd: dir })).code, 0);
  const conf = join(dir, 'config', 'mox.conf');
  const orig = readFileSync(conf, 'utf8');
  // A wrong type on a nested key.
  const lines = orig.split('\n');
  const i = lines.findIndex((l) => /^\s+SMTP:\s*$/.test(l));
  assert.ok(i > 0, 'SMTP key in generated config');
  const indent = /^(\s*)/.exec(lines[i + 1]!)![1];
  lines.splice(i + 1, 0, `${indent}Port: abc`);
  writeFileSync(conf, lines.join('\n'));
  const t = await runMoxts(['config', 'test'], { cwd: dir });
  assert.equal(t.code, 1);
  assert.match(t.stderr, new RegExp(`mox\\.conf:${i + 2}: Listeners\\.public\\.SMTP\\.Port: `));
  // An unknown key in domains.conf.
  writeFileSync(conf, orig);
  const dom = join(dir, 'config', 'domains.conf');
  writeFileSync(dom, readFileSync(dom, 'utf8').replace(/^Accounts:\n/m, 'Accounts:\n  admin2:\n    Domain: example.test\n    Destinatons: {}\n'));
  const t2 = await runMoxts(['config', 'test'], { cwd: dir });
  assert.equal(t2.code, 1);
  assert.match(t2.stderr, /domains\.conf:\d+: Accounts\.admin2\.Destinatons: /);
  rmSync(dir, { recursive: true });
});

test('accounts and domains: add, list, rm; passwords from stdin', async () => {
  const dir = tmp();
  assert.equal((await runMoxts(['quickstart', 'admin@example.test', '--ip', '192.0.2.1'], { cwd: dir })).code, 0);
  let r = await runMoxts(['config', 'domain', 'add', 'other.test', 'bob', 'bob'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /_domainkey\.other\.test\. 300 IN TXT/);
  r = await runMoxts(['config', 'domain', 'add', 'other.test', 'bob'], { cwd: dir });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /already exists/);
  r = await runMoxts(['config', 'account', 'add', 'carol', 'carol@other.test'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  r = await runMoxts(['config', 'account', 'add', 'dave', 'dave@unknown.test'], { cwd: dir });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /unknown\.test/);
  r = await runMoxts(['config', 'account', 'list'], { cwd: dir });
  assert.match(r.stdout, /^admin\tadmin@example\.test$/m);
  assert.match(r.stdout, /^bob\tbob@other\.test$/m);
  assert.match(r.stdout, /^carol\tcarol@other\.test$/m);
  r = await runMoxts(['setaccountpassword', 'carol'], { cwd: dir, stdin: 'carols secret\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(await passwordMatches(join(dir, 'data'), 'carol', 'carols secret'));
  r = await runMoxts(['setaccountpassword', 'nobody'], { cwd: dir, stdin: 'x\n' });
  assert.equal(r.code, 1);
  r = await runMoxts(['setadminpassword'], { cwd: dir, stdin: 'admin secret\n' });
  assert.equal(r.code, 0, r.stderr);
  const rec = JSON.parse(readFileSync(join(dir, 'config', 'adminpasswd'), 'utf8'));
  assert.ok(await verifyPassword(rec, 'admin secret'));
  assert.ok(!readFileSync(join(dir, 'config', 'adminpasswd'), 'utf8').includes('admin secret'));
  r = await runMoxts(['config', 'domain', 'rm', 'other.test'], { cwd: dir });
  assert.equal(r.code, 1, 'refused while accounts use the domain');
  r = await runMoxts(['config', 'account', 'rm', 'carol'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(existsSync(join(dir, 'data', 'accounts', 'carol')), false);
  r = await runMoxts(['config', 'test'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  rmSync(dir, { recursive: true });
});

/** Point every listener of a quickstart config at 127.0.0.1 with OS-chosen ports (tests never bind fixed ports). */
function loopbackListeners(confPath: string): void {
  const doc = parseDocument(readFileSync(confPath, 'utf8'));
  const listeners = doc.get('Listeners') as { items: Array<{ value: { get(k: string): unknown; set(k: string, v: unknown): void; items: Array<{ key: { value: string }; value: { set?(k: string, v: unknown): void } }> } }> };
  for (const l of listeners.items) {
    l.value.set('IPs', ['127.0.0.1']);
    for (const svc of l.value.items) if (svc.key.value !== 'IPs' && svc.key.value !== 'TLS' && svc.key.value !== 'Hostname' && svc.value.set) svc.value.set('Port', 0);
  }
  writeFileSync(confPath, doc.toString());
}

test('serve: ctl commands reach the running server; stop shuts it down cleanly', async () => {
  const dir = tmp();
  assert.equal((await runMoxts(['quickstart', 'admin@example.test', '--ip', '192.0.2.1'], { cwd: dir })).code, 0);
  loopbackListeners(join(dir, 'config', 'mox.conf'));
  const srv = startMoxts(['serve'], { cwd: dir });
  await srv.waitFor(/moxts serving/);
  const r = await runMoxts(['setaccountpassword', 'admin'], { cwd: dir, stdin: 'via server\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /through the running server/);
  const second = await runMoxts(['serve'], { cwd: dir });
  assert.equal(second.code, 1, 'a second server on the same data dir is refused');
  assert.match(second.stderr, /already running/);
  const s = await runMoxts(['stop'], { cwd: dir });
  assert.equal(s.code, 0, s.stderr);
  assert.deepEqual(await srv.exited, { code: 0, signal: null });
  assert.ok(await passwordMatches(join(dir, 'data'), 'admin', 'via server'));
  assert.equal((await runMoxts(['stop'], { cwd: dir })).code, 1, 'stop without a server');
  rmSync(dir, { recursive: true });
});

test('localserve: generated config uses the standard ports + 1000', async () => {
  const dir = join(tmp(), 'ls');
  const init = await runMoxts(['localserve', '-dir', dir, '-initonly']);
  assert.equal(init.code, 0, init.stderr);
  const conf = readFileSync(join(dir, 'mox.conf'), 'utf8');
  for (const port of [1025, 1587, 1465, 1143, 1993, 1080, 1443, 1081]) assert.match(conf, new RegExp(`Port: ${port}\\b`));
  assert.ok(await passwordMatches(join(dir, 'data'), 'mox', 'moxmoxmox'));
  const t = await runMoxts(['--config', join(dir, 'mox.conf'), 'config', 'test']);
  assert.equal(t.code, 0, t.stderr);
  rmSync(join(dir, '..'), { recursive: true });
});

test('localserve: zero-config start, banner, Ctrl-C, restart reuses the directory', async () => {
  const dir = join(tmp(), 'ls');
  // Tests never bind fixed ports: --random-ports writes the config with port 0 everywhere.
  const first = startMoxts(['localserve', '-dir', dir, '--random-ports']);
  await first.waitFor(/Stop with Ctrl-C/);
  const banner = first.stdout.join('\n');
  assert.match(banner, /mox@localhost\s+password moxmoxmox/);
  assert.match(banner, /admin password\s+moxadmin/);
  const smtpPort = Number(/SMTP\s+127\.0\.0\.1:(\d+)/.exec(banner)?.[1]);
  assert.ok(smtpPort > 0 && smtpPort !== 1025, banner);
  // The banner shows a webapi curl example with the port actually bound.
  const webapiPort = Number(/curl -u mox@localhost:moxmoxmox http:\/\/localhost:(\d+)\/webapi\/v0\/Send/.exec(banner)?.[1]);
  assert.ok(webapiPort > 0 && webapiPort !== 1080, banner);
  assert.match(banner, new RegExp(`webapi\\s+http://localhost:${webapiPort}/webapi/v0/\\s`));
  const metricsPort = Number(/metrics\s+http:\/\/localhost:(\d+)\/metrics$/m.exec(banner)?.[1]);
  assert.ok(metricsPort > 0 && metricsPort !== 1081, banner);
  first.child.kill('SIGINT');
  assert.deepEqual(await first.exited, { code: 0, signal: null });
  const conf = readFileSync(join(dir, 'mox.conf'), 'utf8');
  assert.ok(await passwordMatches(join(dir, 'data'), 'mox', 'moxmoxmox'));
  const t = await runMoxts(['--config', join(dir, 'mox.conf'), 'config', 'test']);
  assert.equal(t.code, 0, t.stderr);
  // Restart: the existing config is kept as is.
  const second = startMoxts(['localserve', '--dir', dir]); // existing config: ports 0 kept
  await second.waitFor(/Stop with Ctrl-C/);
  second.child.kill('SIGTERM');
  assert.deepEqual(await second.exited, { code: 0, signal: null });
  assert.equal(readFileSync(join(dir, 'mox.conf'), 'utf8'), conf);
  const init = await runMoxts(['localserve', '-dir', dir, '-initonly']);
  assert.equal(init.code, 0, init.stderr);
  assert.match(init.stdout, /kept existing/);
  rmSync(join(dir, '..'), { recursive: true });
});

test('version and unknown commands', async () => {
  const v = await runMoxts(['version']);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^moxts \d+\.\d+\.\d+ \(node /);
  const u = await runMoxts(['frobnicate']);
  assert.notEqual(u.code, 0);
  assert.match(u.stderr, /unknown command/);
});
