/**
 * localserve end to end, in a temp dir made by `initLocalserve` (every port 0): the full loop
 * webapi Send → queue → SMTP delivery to its own port → outgoing webhook → incoming webhook →
 * IMAP (imapflow, plain login without TLS) and webapi MessageGet, with DKIM/DMARC passing for
 * localhost; each special recipient localpart (temperror, permerror, timeout, NNN, rcptto…,
 * mailfrom…) with its webhooks, failure DSN in the Inbox and suppression entry; the same
 * localparts straight over SMTP. Suppression matches base addresses (localpart without "-…"/"+…"
 * suffix and dots, mox §3.9), so each case uses its own base address.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { initLocalserve, startLocalserve } from '../cmd/localserve-cmd.js';
import type { Server } from '../cmd/server.js';
import { createLogger } from '../log/logger.js';
import { WebapiClient } from '../webapi/client.js';
import { WebhookReceiver, type Received } from './helpers/webhook-receiver.js';
import { RawSmtp } from './helpers/smtp-client.js';
import { verifyWebhook } from '../webhook/sign.js';
import { addWebhooks } from './helpers/localserve.js';
import { WebSession } from './helpers/web.js';

/** Client timeout of the queue's SMTP client here: a "…timeout" recipient fails after it (mox: 60 s). */
const TEST_DELIVERY_TIMEOUT_MS = 4000;

let dir: string;
let server: Server;
let rx: WebhookReceiver;
let api: WebapiClient;

function port(service: string): number {
  const l = server.listeners.find((x) => x.service === service);
  assert.ok(l, `${service} listening`);
  return l.port;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'moxts-ls-'));
  rx = await WebhookReceiver.start();
  await initLocalserve(dir, ['127.0.0.1'], true);
  addWebhooks(dir, rx.url);
  server = await startLocalserve(dir, {
    log: createLogger({ level: 'error' }),
    delivery: { commandTimeoutMs: TEST_DELIVERY_TIMEOUT_MS, dataTimeoutMs: TEST_DELIVERY_TIMEOUT_MS },
  });
  api = new WebapiClient({ baseURL: `http://127.0.0.1:${port('webapi')}/webapi/v0/`, username: 'mox@localhost', password: 'moxmoxmox' });
});

after(async () => {
  await server.stop();
  await rx.close();
  rmSync(dir, { recursive: true, force: true });
});

const json = (r: Received) => JSON.parse(r.body) as Record<string, unknown>;

/** The first webhook (seen or future) matching pred; every webhook's signature is checked. */
async function hook(pred: (r: Received, p: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  for (let seen = 0; ; seen++) {
    await rx.waitFor(seen + 1);
    const r = rx.requests[seen]!;
    verifyWebhook(server.webhooks.store.secrets('mox').current, r.headers as Record<string, string>, r.body);
    if (pred(r, json(r))) return json(r);
  }
}
const outgoing = (queueMsgId: number, event: string) => hook((r, p) => r.path === '/outgoing' && p.QueueMsgID === queueMsgId && p.Event === event);
const incoming = (subject: string) => hook((r, p) => r.path === '/incoming' && p.Subject === subject);

async function send(to: string, subject: string): Promise<number> {
  const r = await api.send({ To: [{ Address: to }], Subject: subject, Text: `body of ${subject}\n` });
  assert.equal(r.Submissions.length, 1);
  return r.Submissions[0]!.QueueMsgID;
}

/** Subjects in mox@localhost's Inbox over IMAP on the plaintext port (localserve allows plain LOGIN). */
async function inboxSubjects(): Promise<string[]> {
  const c = new ImapFlow({ host: '127.0.0.1', port: port('imap'), secure: false, doSTARTTLS: false, auth: { user: 'mox@localhost', pass: 'moxmoxmox' }, logger: false });
  await c.connect();
  try {
    await c.mailboxOpen('Inbox');
    const out: string[] = [];
    for await (const m of c.fetch('1:*', { envelope: true })) out.push(m.envelope?.subject ?? '');
    return out;
  } finally {
    await c.logout();
  }
}

test('success: webapi Send → delivered webhook → incoming webhook → IMAP and MessageGet; DKIM/DMARC pass', { timeout: 60_000 }, async () => {
  const id = await send('someone@localhost', 'loop success');
  const delivered = await outgoing(id, 'delivered');
  assert.equal(delivered.Error, '');
  const inc = await incoming('loop success');
  const meta = inc.Meta as { MsgID: number; MailFrom: string; RcptTo: string; MailboxName: string };
  assert.equal(meta.MailFrom, 'mox@localhost');
  assert.equal(meta.RcptTo, 'someone@localhost');
  assert.equal(meta.MailboxName, 'Inbox');
  assert.deepEqual(inc.From, [{ Name: '', Address: 'mox@localhost' }]);

  const got = await api.messageGet({ MsgID: meta.MsgID });
  assert.equal(got.Message.Subject, 'loop success');
  assert.equal(got.Message.Text, 'body of loop success\n');
  const raw = (await api.messageRawGet({ MsgID: meta.MsgID })).toString('utf8');
  const ar = /^Authentication-Results:.*(?:\r\n[ \t].*)*/im.exec(raw)?.[0] ?? '';
  assert.match(ar, /dkim=pass header\.d=localhost header\.s=localserve/, ar);
  assert.match(ar, /dmarc=pass/, ar);
  // SPF passes for localhost senders on loopback (auth/verify.ts loopbackSpfDomains).
  assert.match(ar, /spf=pass smtp\.mailfrom=/, ar);

  assert.ok((await inboxSubjects()).includes('loop success'));
});

test('permerror: 550 → failed webhook, failure DSN in the Inbox, suppression entry, then suppressed', { timeout: 60_000 }, async () => {
  const to = 'perm-permerror@localhost';
  const id = await send(to, 'loop permerror');
  const failed = await outgoing(id, 'failed');
  assert.equal(failed.SMTPCode, 550);
  assert.equal(failed.Suppressing, true);
  await server.scheduler!.idle(); // the DSN is delivered after the outcome is committed
  assert.ok((await inboxSubjects()).includes('Delivery failure: loop permerror'));
  assert.deepEqual(await api.suppressionPresent({ EmailAddress: to }), { Present: true });
  const list = await api.suppressionList();
  assert.ok(list.Suppressions.some((s) => s.OriginalAddress === to), JSON.stringify(list));

  // The next message to that address is not attempted.
  const id2 = await send(to, 'loop permerror again');
  const sup = await outgoing(id2, 'suppressed');
  assert.match(String(sup.Error), /suppression list/);
});

test('temperror and a 4xx code: delayed webhooks, message stays queued', { timeout: 60_000 }, async () => {
  const id = await send('temp-temperror@localhost', 'loop temperror');
  const delayed = await outgoing(id, 'delayed');
  assert.equal(delayed.SMTPCode, 451);
  const id2 = await send('code452@localhost', 'loop 452');
  assert.equal((await outgoing(id2, 'delayed')).SMTPCode, 452);
  await server.scheduler!.idle();
  const queued = server.queue.list({}).map((m) => m.id);
  assert.ok(queued.includes(id) && queued.includes(id2), `still queued: ${queued}`);
});

test('5xx code and rcptto…: failed with that code, at RCPT TO', { timeout: 60_000 }, async () => {
  const id = await send('code554@localhost', 'loop 554');
  assert.equal((await outgoing(id, 'failed')).SMTPCode, 554);
  const id2 = await send('rcptto551@localhost', 'loop rcptto');
  const f = await outgoing(id2, 'failed');
  assert.equal(f.SMTPCode, 551);
  assert.match(String(f.Error), /RCPT TO/);
});

test('timeout: no answer, the attempt times out → delayed', { timeout: 60_000 }, async () => {
  const id = await send('tmo-timeout@localhost', 'loop timeout');
  const d = await outgoing(id, 'delayed');
  assert.match(String(d.Error), /timeout|timed out/i);
});

test('special localparts straight over SMTP: mailfrom… at MAIL FROM, rcptto… at RCPT TO, others at DATA', { timeout: 60_000 }, async () => {
  const c = await RawSmtp.connect(port('smtp'));
  try {
    assert.equal((await c.reply()).code, 220);
    assert.equal((await c.cmd('EHLO localhost')).code, 250);
    assert.equal((await c.cmd('MAIL FROM:<mailfrom451@localhost>')).code, 451);
    assert.equal((await c.cmd('MAIL FROM:<mox@localhost>')).code, 250);
    assert.equal((await c.cmd('RCPT TO:<rcptto-permerror@localhost>')).code, 550);
    // Any other address is accepted (it lands in mox@localhost's Inbox)…
    assert.equal((await c.cmd('RCPT TO:<whoever@example.org>')).code, 250);
    assert.equal((await c.cmd('RSET')).code, 250);
    assert.equal((await c.cmd('MAIL FROM:<mox@localhost>')).code, 250);
    // …and a special one fails only at DATA.
    assert.equal((await c.cmd('RCPT TO:<x-temperror@localhost>')).code, 250);
    assert.equal((await c.cmd('DATA')).code, 354);
    const r = await c.cmd('From: <mox@localhost>\r\nTo: <x-temperror@localhost>\r\nSubject: raw\r\nMessage-ID: <raw1@localhost>\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\n\r\nhi\r\n.');
    assert.equal(r.code, 451);
  } finally {
    c.close();
  }
});

test('the admin and account pages on the HTTP port: moxadmin and mox@localhost/moxmoxmox log in', async () => {
  const adminPort = port('admin');
  assert.equal(port('account'), adminPort, 'one HTTP listener for admin, account and webapi');
  assert.equal(port('webapi'), adminPort);
  const admin = new WebSession(`http://127.0.0.1:${adminPort}/admin/`);
  assert.equal((await admin.login('moxmoxmox')).status, 401, 'the account password is not the admin password');
  assert.equal((await admin.login('moxadmin')).status, 303);
  const overview = await admin.get('');
  assert.equal(overview.status, 200);
  assert.match(overview.text, /Overview/);
  const account = new WebSession(`http://127.0.0.1:${adminPort}/account/`);
  assert.equal((await account.login('moxmoxmox', 'mox@localhost')).status, 303);
  const page = await account.get('');
  assert.equal(page.status, 200);
  assert.match(page.text, /mox@localhost/);
});
