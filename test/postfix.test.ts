/**
 * Postfix as a real peer: a private Postfix instance (own config_directory, queue_directory and
 * maildir in a temp dir, smtpd on 127.0.0.1 at a free non-standard port, no system service)
 * receives a message from the moxts queue (MX of postfix.example published by dns2), and relays a
 * message for example.com to moxts's SMTP port (transport_maps), which stores it in the Inbox.
 * Skipped only when the postfix binary is not installed (apt-get install postfix, see .ci/run).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer } from './helpers/server.js';
import { closedPort } from '../smtp/client/testsink.js';
import { RawSmtp, sendRaw } from './helpers/smtp-client.js';

const POSTFIX = '/usr/sbin/postfix';

/** Wait for a condition of an external process (Postfix has no event we can subscribe to). */
async function until(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timeout waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function postfixMainCf(dir: string, port: number, moxPort: number, uid: number, gid: number): string {
  return `compatibility_level = 3.6
queue_directory = ${dir}/queue
data_directory = ${dir}/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = no
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.postfix.example
mydestination =
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
virtual_mailbox_domains = postfix.example
virtual_mailbox_base = ${dir}/vmail
virtual_mailbox_maps = static:box/
virtual_uid_maps = static:${uid}
virtual_gid_maps = static:${gid}
relay_domains = example.com
transport_maps = inline:{ example.com=smtp:[127.0.0.1]:${moxPort} }
smtp_dns_support_level = disabled
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
maillog_file = ${dir}/maillog
maillog_file_prefixes = ${dir}
`;
}

function postfixMasterCf(port: number): string {
  const svc = (name: string, type: string, priv: string, unpriv: string, wakeup: string, max: string, cmd: string) => `${name} ${type} ${priv} ${unpriv} n ${wakeup} ${max} ${cmd}`;
  return [
    `127.0.0.1:${port} inet n - n - - smtpd`,
    svc('pickup', 'unix', 'n', '-', '60', '1', 'pickup'),
    svc('cleanup', 'unix', 'n', '-', '-', '0', 'cleanup'),
    svc('qmgr', 'unix', 'n', '-', '300', '1', 'qmgr'),
    svc('tlsmgr', 'unix', '-', '-', '1000?', '1', 'tlsmgr'),
    svc('rewrite', 'unix', '-', '-', '-', '-', 'trivial-rewrite'),
    svc('bounce', 'unix', '-', '-', '-', '0', 'bounce'),
    svc('defer', 'unix', '-', '-', '-', '0', 'bounce'),
    svc('trace', 'unix', '-', '-', '-', '0', 'bounce'),
    svc('verify', 'unix', '-', '-', '-', '1', 'verify'),
    svc('flush', 'unix', 'n', '-', '1000?', '0', 'flush'),
    svc('proxymap', 'unix', '-', '-', '-', '-', 'proxymap'),
    svc('smtp', 'unix', '-', '-', '-', '-', 'smtp'),
    svc('relay', 'unix', '-', '-', '-', '-', 'smtp'),
    svc('showq', 'unix', 'n', '-', '-', '-', 'showq'),
    svc('error', 'unix', '-', '-', '-', '-', 'error'),
    svc('retry', 'unix', '-', '-', '-', '-', 'error'),
    svc('discard', 'unix', '-', '-', '-', '-', 'discard'),
    svc('local', 'unix', '-', 'n', '-', '-', 'local'),
    svc('virtual', 'unix', '-', 'n', '-', '-', 'virtual'),
    svc('lmtp', 'unix', '-', '-', '-', '-', 'lmtp'),
    svc('anvil', 'unix', '-', '-', '-', '1', 'anvil'),
    svc('scache', 'unix', '-', '-', '-', '1', 'scache'),
    svc('postlog', 'unix-dgram', 'n', '-', '-', '1', 'postlogd'),
  ].join('\n') + '\n';
}

test('Postfix as a real peer: moxts delivers to Postfix, Postfix relays to moxts', { timeout: 120_000 }, async (t) => {
  if (!existsSync(POSTFIX)) {
    t.skip('postfix is not installed (apt-get install postfix); .ci/run installs it');
    return;
  }
  const uid = Number(execFileSync('id', ['-u', 'postfix']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postfix']).toString().trim());
  const pfPort = await closedPort();
  const ts = await startTestServer({
    zone: { 'postfix.example': { MX: [{ exchange: 'mx.postfix.example', priority: 10 }] }, 'mx.postfix.example': { A: ['127.0.0.1'] } },
    delivery: { port: pfPort, connectTimeoutMs: 5000, commandTimeoutMs: 10_000, dataTimeoutMs: 10_000 },
  });
  const dir = mkdtempSync(join(tmpdir(), 'moxts-postfix-'));
  chmodSync(dir, 0o755);
  let started = false;
  try {
    for (const d of ['conf', 'queue', 'data', 'vmail']) mkdirSync(join(dir, d));
    chownSync(join(dir, 'data'), uid, gid);
    chownSync(join(dir, 'vmail'), uid, gid);
    writeFileSync(join(dir, 'conf', 'main.cf'), postfixMainCf(dir, pfPort, ts.smtpPort, uid, gid));
    writeFileSync(join(dir, 'conf', 'master.cf'), postfixMasterCf(pfPort));
    const r = spawnSync(POSTFIX, ['-c', join(dir, 'conf'), 'start'], { encoding: 'utf8' });
    assert.equal(r.status, 0, `postfix start: ${r.stderr}${existsSync(join(dir, 'maillog')) ? readFileSync(join(dir, 'maillog'), 'utf8') : ''}`);
    started = true;
    // Postfix is ready when its smtpd answers.
    await until('postfix smtpd', () => spawnSync('python3', ['-c', `import socket; socket.create_connection(("127.0.0.1", ${pfPort}), 1).close()`]).status === 0);

    // moxts → Postfix: the queue finds mx.postfix.example and delivers over SMTP.
    const msg = 'From: <mjl@example.com>\r\nTo: <someone@postfix.example>\r\nSubject: to postfix\r\nMessage-ID: <to-postfix@example.com>\r\n\r\nHello Postfix.\r\n';
    const [m] = await ts.server.queue.add({ account: 'mjl', mailFrom: { localpart: 'mjl', domain: 'example.com' }, recipients: [{ localpart: 'someone', domain: 'postfix.example' }], message: Buffer.from(msg) });
    ts.server.scheduler!.kick();
    await ts.server.scheduler!.idle();
    const retired = ts.server.queue.getRetired(m!.id);
    assert.equal(ts.server.queue.get(m!.id), undefined, 'delivered and retired');
    assert.equal(retired?.outcome ?? 'delivered', 'delivered');
    const newDir = join(dir, 'vmail', 'box', 'new');
    await until('the message in the Postfix maildir', () => existsSync(newDir) && readdirSync(newDir).length > 0);
    const stored = readFileSync(join(newDir, readdirSync(newDir)[0]!), 'utf8').replace(/\n/g, '\r\n');
    assert.ok(stored.includes('Subject: to postfix'), stored);
    assert.match(stored, /Return-Path: <mjl@example\.com>/);
    assert.ok(stored.endsWith('Hello Postfix.\r\n'));

    // Postfix → moxts: a message for example.com handed to Postfix is relayed to moxts's SMTP port.
    const c = await RawSmtp.connect(pfPort);
    assert.equal((await c.reply()).code, 220);
    assert.equal((await c.cmd('EHLO client.postfix.example')).code, 250);
    const sent = await sendRaw(c, 'sender@postfix.example', ['mjl@example.com'], 'From: <sender@postfix.example>\r\nTo: <mjl@example.com>\r\nSubject: via postfix\r\n\r\nRelayed by Postfix.\r\n');
    assert.equal(sent.code, 250, sent.text);
    await c.cmd('QUIT');
    c.close();
    const acc = ts.server.store.account('mjl');
    const inbox = () => acc.listMessages(acc.mailbox('Inbox')!.id);
    await until('the relayed message in the moxts Inbox', () => inbox().some((x) => x.subject === 'via postfix'));
    const got = (await acc.readMessage(inbox().find((x) => x.subject === 'via postfix')!.id)).toString();
    assert.match(got, /Received: from mx\.postfix\.example/);
    assert.ok(got.endsWith('Relayed by Postfix.\r\n'));
  } finally {
    if (started) spawnSync(POSTFIX, ['-c', join(dir, 'conf'), 'stop']);
    await ts.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
