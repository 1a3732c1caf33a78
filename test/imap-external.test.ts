/**
 * Real external IMAP clients (Debian packages, installed by .ci/run): mbsync (isync) syncs the
 * account's mailboxes to a local Maildir and back with identical content; curl lists mailboxes,
 * fetches messages and sections, and searches over imap:// and imaps://.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer } from './helpers/server.js';
import { parseBuffer } from '../message/part.js';
import type { Account } from '../store/account.js';
import { encodeUtf7 } from '../imap/utf7.js';

let ts: TestServer;
const PASS = 'external clients pw';
const USER = 'mjl@example.com';

before(async () => {
  ts = await startTestServer({ imap: true, passwords: { mjl: PASS } });
});
after(async () => {
  await ts.stop();
});

function run(cmd: string, args: string[]): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => out.push(d));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('error', reject);
    c.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
  });
}

function account(): Account {
  return ts.server.store.account('mjl');
}

let n = 0;
function message(subject: string, body: string, attachment = false): Buffer {
  n++;
  const head = `From: Sender ${n} <sender${n}@example.org>\r\nTo: mjl@example.com\r\nSubject: ${subject}\r\nMessage-ID: <ext${n}.${Date.now()}@example.org>\r\nDate: Sat, 21 Nov 2026 10:${String(n % 60).padStart(2, '0')}:00 +0000\r\nMIME-Version: 1.0\r\n`;
  if (!attachment) return Buffer.from(`${head}Content-Type: text/plain; charset=utf-8\r\n\r\n${body}\r\n`);
  return Buffer.from(
    `${head}Content-Type: multipart/mixed; boundary=xyz\r\n\r\n--xyz\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${body}\r\n` +
      `--xyz\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=data.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n` +
      `${Buffer.from(Array.from({ length: 300 }, (_, i) => i % 256)).toString('base64').replace(/.{76}/g, '$&\r\n')}\r\n--xyz--\r\n`,
  );
}

async function deliver(mailbox: string, data: Buffer, flags: Array<'seen' | 'flagged'> = []): Promise<void> {
  const parsed = parseBuffer(data);
  await account().deliver({ mailbox, data, parsed, flags, subject: parsed.envelope?.subject ?? undefined });
}

/**
 * A message as both sides must agree on: mbsync stores Maildir files with LF line ends (its
 * documented default) and adds an X-TUID header field to messages it propagates (to find them
 * again); both are mbsync's conventions, not content changes.
 */
function norm(s: string): string {
  return s.replace(/\r\n/g, '\n').replace(/^X-TUID: .*\n/m, '');
}

/** Contents of all messages of a mailbox on the server, normalised (norm), sorted. */
async function serverContents(mailbox: string): Promise<string[]> {
  const a = account();
  const mb = a.mailbox(mailbox);
  if (!mb) return [];
  const out: string[] = [];
  for (const m of a.listMessages(mb.id)) out.push(norm((await a.readMessage(m.id)).toString('latin1')));
  return out.sort();
}

/** Messages of a Maildir folder (cur/ and new/), normalised (norm), sorted, with their file names. */
function maildirFiles(dir: string): Array<{ name: string; data: string }> {
  const out: Array<{ name: string; data: string }> = [];
  for (const sub of ['cur', 'new']) {
    let names: string[] = [];
    try {
      names = readdirSync(join(dir, sub));
    } catch {
      continue;
    }
    for (const f of names) out.push({ name: join(sub, f), data: norm(readFileSync(join(dir, sub, f), 'latin1')) });
  }
  return out.sort((a, b) => (a.data < b.data ? -1 : a.data > b.data ? 1 : 0));
}

test('mbsync syncs every mailbox to a Maildir and back with identical content', async () => {
  await deliver('Inbox', message('hello mbsync', 'first message body'), ['seen']);
  await deliver('Inbox', message('with attachment', 'see the attached file', true));
  await deliver('Inbox', message('flagged one', 'important', false), ['flagged']);
  await deliver('Archive', message('archived', 'old stuff'));
  account().createMailbox('Café/Déjà vu'); // non-ASCII: modified UTF-7 on the wire
  await deliver('Café/Déjà vu', message('accented folder', 'contenu'));

  const base = join(ts.dir, 'mbsync');
  const maildir = join(base, 'mail');
  mkdirSync(maildir, { recursive: true });
  const conf = join(base, 'mbsyncrc');
  writeFileSync(
    conf,
    [
      'IMAPAccount moxts',
      'Host 127.0.0.1',
      `Port ${ts.imapPort}`,
      `User ${USER}`,
      `Pass "${PASS}"`,
      'SSLType None',
      'AuthMechs LOGIN',
      '',
      'IMAPStore remote',
      'Account moxts',
      '',
      'MaildirStore local',
      `Path ${maildir}/`,
      `Inbox ${maildir}/INBOX`,
      'SubFolders Verbatim',
      '',
      'Channel sync',
      'Far :remote:',
      'Near :local:',
      'Patterns *',
      'Create Both',
      'Expunge Both',
      'SyncState *',
      '',
    ].join('\n'),
  );

  const r1 = await run('mbsync', ['-c', conf, '-a']);
  assert.equal(r1.code, 0, `mbsync failed: ${r1.stderr}`);

  // Down: identical content per mailbox, flags as Maildir info.
  for (const [server, local] of [
    ['Inbox', 'INBOX'],
    ['Archive', 'Archive'],
    // mbsync 1.4 keeps the wire's modified UTF-7 names (rfc3501:5.1.3) as Maildir folder names.
    ['Café/Déjà vu', encodeUtf7('Café/Déjà vu')],
    ['Sent', 'Sent'],
  ] as const) {
    const files = maildirFiles(join(maildir, local));
    assert.deepEqual(
      files.map((f) => f.data),
      await serverContents(server),
      `content of ${server}`,
    );
  }
  const inbox = maildirFiles(join(maildir, 'INBOX'));
  const flagsOf = (subject: string) => /:2,([A-Z]*)$/.exec(inbox.find((f) => f.data.includes(`Subject: ${subject}`))!.name)?.[1] ?? '';
  assert.equal(flagsOf('hello mbsync'), 'S');
  assert.equal(flagsOf('flagged one'), 'F');
  assert.equal(flagsOf('with attachment'), '');

  // Up: a new local message, a flag change, and a new local folder.
  const local1 = message('written locally', 'from the maildir side');
  writeFileSync(join(maildir, 'INBOX', 'new', `${Date.now()}.1.localhost`), local1);
  const att = inbox.find((f) => f.data.includes('Subject: with attachment'))!;
  renameSync(join(maildir, 'INBOX', att.name), join(maildir, 'INBOX', att.name.replace(/:2,[A-Z]*$/, ':2,FS')));
  mkdirSync(join(maildir, 'Projects', 'cur'), { recursive: true });
  mkdirSync(join(maildir, 'Projects', 'new'), { recursive: true });
  mkdirSync(join(maildir, 'Projects', 'tmp'), { recursive: true });
  const local2 = message('project plan', 'steps', true);
  writeFileSync(join(maildir, 'Projects', 'new', `${Date.now()}.2.localhost`), local2);

  const r2 = await run('mbsync', ['-c', conf, '-a']);
  assert.equal(r2.code, 0, `mbsync (second run) failed: ${r2.stderr}`);

  const inboxServer = await serverContents('Inbox');
  assert.ok(inboxServer.includes(norm(local1.toString('latin1'))), 'local message uploaded');
  assert.deepEqual(await serverContents('Projects'), [norm(local2.toString('latin1'))], 'new local folder created with its message');
  const a = account();
  const attMsg = a.listMessages(a.mailbox('Inbox')!.id).find((m) => m.subject === 'with attachment');
  assert.ok(attMsg, 'the message is still there');
  assert.deepEqual([attMsg.flags.seen, attMsg.flags.flagged], [true, true], 'local flag change reached the server');

  // And the Maildir still equals the server everywhere after the round trip.
  const r3 = await run('mbsync', ['-c', conf, '-a']);
  assert.equal(r3.code, 0, r3.stderr);
  for (const [server, local] of [
    ['Inbox', 'INBOX'],
    ['Projects', 'Projects'],
    // mbsync 1.4 keeps the wire's modified UTF-7 names (rfc3501:5.1.3) as Maildir folder names.
    ['Café/Déjà vu', encodeUtf7('Café/Déjà vu')],
  ] as const) {
    assert.deepEqual(
      maildirFiles(join(maildir, local)).map((f) => f.data),
      await serverContents(server),
      `content of ${server} after the round trip`,
    );
  }
});

test('curl lists, fetches by UID and section, and searches over imap:// and imaps://', async () => {
  const a = account();
  a.createMailbox('CurlBox');
  const m1 = message('curl one', 'a body with the word kangaroo in it');
  const m2 = message('curl two', 'second body', true);
  await deliver('CurlBox', m1);
  await deliver('CurlBox', m2);
  const userpw = `${USER}:${PASS}`;
  const url = `imap://127.0.0.1:${ts.imapPort}`;

  const list = await run('curl', ['-sS', '--user', userpw, `${url}/`]);
  assert.equal(list.code, 0, list.stderr);
  const names = list.stdout.toString();
  for (const nm of ['INBOX', 'Archive', 'CurlBox', 'Sent']) assert.match(names, new RegExp(`\\* LIST \\([^)]*\\) "/" "?${nm}"?\\r?\\n`), nm);

  const f1 = await run('curl', ['-sS', '--user', userpw, `${url}/CurlBox;UID=1`]);
  assert.equal(f1.code, 0, f1.stderr);
  assert.deepEqual(f1.stdout, m1, 'whole message by UID');

  const f2 = await run('curl', ['-sS', '--user', userpw, `${url}/CurlBox;UID=2/;SECTION=1`]);
  assert.equal(f2.code, 0, f2.stderr);
  assert.equal(f2.stdout.toString(), 'second body', 'a MIME part by section');

  const f3 = await run('curl', ['-sS', '--user', userpw, `${url}/CurlBox;UID=2/;SECTION=HEADER.FIELDS%20(SUBJECT)`]);
  assert.equal(f3.code, 0, f3.stderr);
  assert.equal(f3.stdout.toString(), 'Subject: curl two\r\n\r\n');

  // curl's "?<search>" runs UID SEARCH (rev1 answer: * SEARCH); TEXT goes through the full-text index.
  const s = await run('curl', ['-sS', '--user', userpw, `${url}/CurlBox?TEXT%20kangaroo`]);
  assert.equal(s.code, 0, s.stderr);
  assert.match(s.stdout.toString(), /^\* SEARCH 1\r?\n$/);
  const none = await run('curl', ['-sS', '--user', userpw, `${url}/CurlBox?SUBJECT%20%22no%20such%22`]);
  assert.equal(none.code, 0, none.stderr);
  assert.match(none.stdout.toString(), /^\* SEARCH\r?\n$/);

  const tls = await run('curl', ['-sS', '--cacert', join(ts.dir, 'cert.pem'), '--resolve', `localhost:${ts.imapsPort}:127.0.0.1`, '--user', userpw, `imaps://localhost:${ts.imapsPort}/CurlBox;UID=1`]);
  assert.equal(tls.code, 0, tls.stderr);
  assert.deepEqual(tls.stdout, m1, 'over implicit TLS');

  const bad = await run('curl', ['-sS', '--user', `${USER}:wrong`, `${url}/`]);
  assert.notEqual(bad.code, 0, 'wrong password refused');
});
