/**
 * IMAP untagged-response rules with concurrent sessions (raw protocol, exact lines): EXISTS,
 * FETCH FLAGS and EXPUNGE reach other sessions after their commands and during IDLE, never an
 * EXPUNGE while answering FETCH/STORE/SEARCH; IDLE receives a message delivered over SMTP and an
 * APPEND from another session; CONDSTORE/QRESYNC resync; UTF-7 and UTF-8 mailbox names; bad input.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from './helpers/server.js';
import { RawImap } from './helpers/imap-client.js';
import { RawSmtp, sendRaw } from './helpers/smtp-client.js';

let ts: TestServer;
const PASS = 'sessions password';

before(async () => {
  ts = await startTestServer({ imap: true, passwords: { mjl: PASS } });
});
after(async () => {
  await ts.stop();
});

async function login(): Promise<RawImap> {
  const c = await RawImap.connect(ts.imapPort);
  await c.line();
  const r = await c.cmd(`LOGIN mjl@example.com "${PASS}"`);
  assert.equal(r.status, 'OK', r.text);
  return c;
}

const message = (subject: string) => `From: a@example.org\r\nSubject: ${subject}\r\n\r\nbody ${subject}\r\n`;

async function append(c: RawImap, mailbox: string, subject: string, flags = ''): Promise<number> {
  const m = message(subject);
  const r = await c.cmd(`APPEND ${mailbox} (${flags}) {${Buffer.byteLength(m)}+}\r\n${m}`);
  assert.equal(r.status, 'OK', r.text);
  const uid = /APPENDUID \d+ (\d+)/.exec(r.text);
  return Number(uid![1]);
}

test('two sessions: EXISTS, FETCH FLAGS and EXPUNGE reported at the right moments', async () => {
  const a = await login();
  const b = await login();
  assert.equal((await a.cmd('CREATE Shared')).status, 'OK');
  for (const s of ['m1', 'm2', 'm3']) await append(a, 'Shared', s);
  let r = await a.cmd('SELECT Shared');
  assert.ok(r.untagged.includes('* 3 EXISTS'));
  r = await b.cmd('SELECT Shared');
  assert.ok(r.untagged.includes('* 3 EXISTS'));

  // A sets a flag and expunges message 2; B hears nothing until its next command.
  r = await a.cmd('STORE 1 +FLAGS (\\Flagged)');
  assert.deepEqual(r.untagged, ['* 1 FETCH (FLAGS (\\Flagged))']);
  r = await a.cmd('STORE 2 +FLAGS.SILENT (\\Deleted)');
  assert.deepEqual(r.untagged, []);
  r = await a.cmd('EXPUNGE');
  assert.deepEqual(r.untagged, ['* 2 EXPUNGE']);
  await append(a, 'Shared', 'm4');

  // rfc9051:7.5.1 no EXPUNGE while answering FETCH: B still sees 3 (plus the new one).
  r = await b.cmd('FETCH 1:* (UID)');
  assert.ok(!r.untagged.some((l) => /EXPUNGE/.test(l)), r.untagged.join('\n'));
  assert.ok(r.untagged.includes('* 4 EXISTS'), r.untagged.join('\n'));
  assert.ok(r.untagged.includes('* 1 FETCH (UID 1 FLAGS (\\Flagged))') || r.untagged.some((l) => /^\* 1 FETCH \(UID 1 FLAGS \(\\Flagged\)\)$/.test(l)), r.untagged.join('\n'));
  // Message 2 (uid 2) was expunged: it stays numbered but has no data.
  assert.ok(!r.untagged.some((l) => l.startsWith('* 2 FETCH (UID 2)')));
  r = await b.cmd('STORE 1 -FLAGS.SILENT (\\Seen)');
  assert.ok(!r.untagged.some((l) => /EXPUNGE/.test(l)));
  r = await b.cmd('SEARCH ALL');
  assert.ok(!r.untagged.some((l) => /EXPUNGE/.test(l)));
  assert.deepEqual(r.untagged, ['* SEARCH 1 3 4']); // the expunged message no longer matches
  // NOOP may report the expunge.
  r = await b.cmd('NOOP');
  assert.deepEqual(r.untagged.filter((l) => /EXPUNGE/.test(l)), ['* 2 EXPUNGE']);
  r = await b.cmd('FETCH 1:* (UID)');
  assert.deepEqual(r.untagged, ['* 1 FETCH (UID 1)', '* 2 FETCH (UID 3)', '* 3 FETCH (UID 4)']);
  // UID FETCH may report expunges.
  r = await a.cmd('UID STORE 3 +FLAGS.SILENT (\\Deleted)');
  r = await a.cmd('UID EXPUNGE 3');
  assert.deepEqual(r.untagged, ['* 2 EXPUNGE']);
  r = await b.cmd('UID FETCH 1:* (FLAGS)');
  assert.ok(r.untagged.includes('* 2 EXPUNGE'), r.untagged.join('\n'));
  a.close();
  b.close();
});

test('IDLE: a message delivered over SMTP and an APPEND from another session arrive', async () => {
  const a = await login();
  const b = await login();
  await a.cmd('CREATE Idle');
  let r = await a.cmd('SELECT INBOX');
  const exists = Number(/\* (\d+) EXISTS/.exec(r.untagged.join('\n'))![1]);
  a.write('i1 IDLE\r\n');
  assert.match(await a.line(), /^\+ /);

  const smtp = await RawSmtp.connect(ts.smtpPort);
  await smtp.reply();
  await smtp.cmd('EHLO client.example.org');
  const sent = await sendRaw(smtp, 'someone@example.org', ['mjl@example.com'], 'From: someone@example.org\r\nTo: mjl@example.com\r\nSubject: over smtp\r\n\r\nhi\r\n');
  assert.equal(sent.code, 250);
  assert.equal(await a.line(), `* ${exists + 1} EXISTS`);
  assert.equal(await a.line(), '* 1 RECENT'); // rev1 session: new while selected

  await append(b, 'INBOX', 'from b');
  assert.equal(await a.line(), `* ${exists + 2} EXISTS`);
  assert.equal(await a.line(), '* 2 RECENT');
  await b.cmd('SELECT INBOX');
  await b.cmd(`STORE ${exists + 1} +FLAGS (\\Answered)`);
  assert.match(await a.line(), new RegExp(`^\\* ${exists + 1} FETCH \\(UID \\d+ FLAGS \\(\\\\Answered \\\\Recent\\)\\)$`));
  await b.cmd(`STORE ${exists + 1} +FLAGS.SILENT (\\Deleted)`);
  await b.cmd('EXPUNGE');
  assert.match(await a.line(), /FETCH/); // the \Deleted flag change
  assert.equal(await a.line(), `* ${exists + 1} EXPUNGE`);
  a.write('DONE\r\n');
  r = await a.until('i1');
  assert.equal(r.status, 'OK');
  smtp.cmd('QUIT').catch(() => {});
  a.close();
  b.close();
});

test('CONDSTORE and QRESYNC: modseqs, UNCHANGEDSINCE, CHANGEDSINCE, VANISHED (EARLIER)', async () => {
  const a = await login();
  await a.cmd('CREATE Cond');
  for (const s of ['c1', 'c2', 'c3', 'c4']) await append(a, 'Cond', s);
  let r = await a.cmd('ENABLE QRESYNC');
  assert.deepEqual(r.untagged, ['* ENABLED QRESYNC CONDSTORE']);
  r = await a.cmd('SELECT Cond');
  const hms = Number(/HIGHESTMODSEQ (\d+)/.exec(r.untagged.join('\n'))![1]);
  const uv = Number(/UIDVALIDITY (\d+)/.exec(r.untagged.join('\n'))![1]);
  r = await a.cmd('FETCH 1 (MODSEQ)');
  const m1 = Number(/MODSEQ \((\d+)\)/.exec(r.untagged[0]!)![1]);
  r = await a.cmd(`STORE 1 (UNCHANGEDSINCE ${m1}) +FLAGS (\\Seen)`);
  assert.equal(r.status, 'OK');
  assert.match(r.untagged[0]!, /^\* 1 FETCH \(FLAGS \(\\Seen\) MODSEQ \(\d+\)\)$/);
  r = await a.cmd(`STORE 1 (UNCHANGEDSINCE ${m1}) +FLAGS (\\Flagged)`);
  assert.match(r.text, /^\[MODIFIED 1\] /);
  r = await a.cmd('UID STORE 2 +FLAGS.SILENT (\\Deleted)');
  r = await a.cmd('EXPUNGE');
  assert.deepEqual(r.untagged.filter((l) => l.startsWith('* VANISHED')), ['* VANISHED 2']);
  assert.match(r.text, /HIGHESTMODSEQ/);
  r = await a.cmd(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${hms} VANISHED)`);
  assert.equal(r.untagged[0], '* VANISHED (EARLIER) 2');
  assert.equal(r.untagged.length, 2);
  assert.match(r.untagged[1]!, /^\* 1 FETCH \(UID 1 FLAGS \(\\Seen\) MODSEQ \(\d+\)\)$/);
  await a.cmd('UNSELECT');
  r = await a.cmd(`SELECT Cond (QRESYNC (${uv} ${hms} 1:4))`);
  assert.ok(r.untagged.includes('* VANISHED (EARLIER) 2'), r.untagged.join('\n'));
  assert.ok(r.untagged.some((l) => /^\* 1 FETCH \(UID 1 FLAGS \(\\Seen\) MODSEQ \(\d+\)\)$/.test(l)));
  r = await a.cmd(`SELECT Cond (QRESYNC (${uv + 1} ${hms}))`);
  assert.ok(r.untagged.includes('* OK [CLOSED] previous mailbox closed'));
  assert.ok(!r.untagged.some((l) => l.includes('VANISHED')));
  a.close();
});

test('mailbox names: modified UTF-7 for rev1, UTF-8 after ENABLE UTF8=ACCEPT, INBOX case', async () => {
  const a = await login();
  let r = await a.cmd('CREATE "Entw&APw-rfe"');
  assert.equal(r.status, 'OK');
  r = await a.cmd('LIST "" "Entw*"');
  assert.deepEqual(r.untagged, ['* LIST (\\HasNoChildren) "/" "Entw&APw-rfe"']);
  r = await a.cmd('STATUS inbox (MESSAGES)');
  assert.match(r.untagged[0]!, /^\* STATUS "INBOX" \(MESSAGES \d+\)$/);
  r = await a.cmd('ENABLE UTF8=ACCEPT');
  r = await a.cmd('LIST "" "Entw*"');
  assert.deepEqual(r.untagged, [Buffer.from('* LIST (\\HasNoChildren) "/" "Entwürfe"').toString('latin1')]);
  r = await a.cmd('CREATE "Ποστ/子"');
  assert.equal(r.status, 'OK');
  r = await a.cmd('LIST "" "Ποστ/*"');
  assert.deepEqual(r.untagged, [Buffer.from('* LIST (\\HasNoChildren) "/" "Ποστ/子"').toString('latin1')]);
  r = await a.cmd('SELECT iNbOx');
  assert.equal(r.status, 'OK');
  a.close();
});

test('LIST-EXTENDED, LIST-STATUS, SPECIAL-USE, subscriptions, NAMESPACE, quota, ID', async () => {
  const a = await login();
  await a.cmd('CREATE Top/Sub');
  let r = await a.cmd('UNSUBSCRIBE Top/Sub');
  assert.equal(r.status, 'OK');
  await a.cmd('SUBSCRIBE Ghost');
  r = await a.cmd('LIST (SUBSCRIBED) "" "*" RETURN (CHILDREN)');
  assert.ok(r.untagged.includes('* LIST (\\NonExistent \\Subscribed) "/" "Ghost"'), r.untagged.join('\n'));
  assert.ok(!r.untagged.some((l) => l.includes('"Top/Sub"')));
  r = await a.cmd('LIST (SPECIAL-USE) "" "*"');
  assert.deepEqual(r.untagged.map((l) => l.replace(/^.*"\/" /, '')).sort(), ['"Archive"', '"Drafts"', '"Junk"', '"Sent"', '"Trash"']);
  r = await a.cmd('LIST "" "Top/%" RETURN (STATUS (MESSAGES UIDNEXT SIZE))');
  assert.deepEqual(r.untagged, ['* LIST (\\HasNoChildren) "/" "Top/Sub"', '* STATUS "Top/Sub" (MESSAGES 0 UIDNEXT 1 SIZE 0)']);
  r = await a.cmd('LIST "" "%"');
  assert.ok(r.untagged.includes('* LIST (\\HasChildren) "/" "Top"'));
  r = await a.cmd('LSUB "" "*"');
  assert.ok(r.untagged.includes('* LSUB (\\Noselect) "/" "Ghost"'));
  r = await a.cmd('LIST "" ""');
  assert.deepEqual(r.untagged, ['* LIST (\\Noselect) "/" ""']);
  r = await a.cmd('CREATE MyTrash (USE (\\Trash))');
  assert.equal(r.status, 'OK');
  r = await a.cmd('CREATE Bad (USE (\\Flagged))');
  assert.match(r.text, /USEATTR/);
  r = await a.cmd('NAMESPACE');
  assert.deepEqual(r.untagged, ['* NAMESPACE (("" "/")) NIL NIL']);
  r = await a.cmd('GETQUOTAROOT INBOX');
  assert.deepEqual(r.untagged, ['* QUOTAROOT "INBOX" ""', '* QUOTA "" ()']);
  r = await a.cmd('ID ("name" "test")');
  assert.deepEqual(r.untagged, ['* ID ("name" "moxts")']);
  r = await a.cmd('DELETE INBOX');
  assert.equal(r.status, 'NO');
  r = await a.cmd('DELETE Top');
  assert.match(r.text, /HASCHILDREN/);
  r = await a.cmd('COPY 1 Archive');
  assert.equal(r.status, 'BAD');
  a.close();
});

test('RENAME INBOX moves its messages; APPEND to a missing mailbox is TRYCREATE', async () => {
  const a = await login();
  await a.cmd('CREATE Src');
  let r = await a.cmd('APPEND Nope {3+}\r\nabc');
  assert.match(r.text, /TRYCREATE/);
  r = await a.cmd('STATUS INBOX (MESSAGES)');
  const before = Number(/MESSAGES (\d+)/.exec(r.untagged[0]!)![1]);
  r = await a.cmd('RENAME INBOX OldInbox');
  assert.equal(r.status, 'OK');
  r = await a.cmd('STATUS INBOX (MESSAGES)');
  assert.match(r.untagged[0]!, /MESSAGES 0/);
  r = await a.cmd('STATUS OldInbox (MESSAGES)');
  assert.equal(Number(/MESSAGES (\d+)/.exec(r.untagged[0]!)![1]), before);
  a.close();
});

test('bad input: unbalanced parentheses, huge literals, missing tags, wrong state, line too long', async () => {
  const a = await RawImap.connect(ts.imapPort);
  await a.line();
  let r = await a.cmd('FETCH 1 (FLAGS');
  assert.equal(r.status, 'BAD');
  r = await a.cmd('LOGIN {200000}');
  assert.equal(r.status, 'BAD');
  assert.match(r.text, /TOOBIG/);
  r = await a.cmd(`LOGIN mjl@example.com "${PASS}"`);
  assert.equal(r.status, 'OK');
  r = await a.cmd('FETCH 1 FLAGS');
  assert.equal(r.status, 'BAD');
  assert.match(r.text, /not allowed/);
  r = await a.cmd('SELECT INBOX (((');
  assert.equal(r.status, 'BAD');
  r = await a.cmd('APPEND INBOX {999999999999}');
  assert.match(r.text, /TOOBIG/);
  // A non-synchronising literal over the limit is read and dropped; the connection stays usable.
  a.write(`x1 LOGIN {${200 * 1024}+}\r\n${'a'.repeat(200 * 1024)}\r\n`);
  r = await a.until('x1');
  assert.equal(r.status, 'BAD');
  a.write('* NOOP\r\n');
  assert.match(await a.line(), /^\* BAD/);
  r = await a.cmd('NOOP');
  assert.equal(r.status, 'OK');
  a.write('x2 ' + 'A'.repeat(20 * 1024) + '\r\n');
  const l1 = await a.line();
  assert.match(l1, /BAD \[TOOBIG\]/);
  assert.match(await a.line(), /^\* BYE/);
  a.close();
});

test('disconnect in the middle of an APPEND literal stores nothing', async () => {
  const a = await login();
  await a.cmd('CREATE Partial');
  a.write('p1 APPEND Partial {100}\r\n');
  assert.match(await a.line(), /^\+ /); // the server is reading the literal
  a.write('From: x\r\n\r\nonly part of it');
  a.close();
  const b = await login();
  const r = await b.cmd('STATUS Partial (MESSAGES)');
  assert.deepEqual(r.untagged, ['* STATUS "Partial" (MESSAGES 0)']);
  b.close();
});

test('SEARCH, UID SEARCH, ESEARCH return options, SAVE and $', async () => {
  const a = await login();
  await a.cmd('CREATE Srch');
  await append(a, 'Srch', 'apple', '\\Seen');
  await append(a, 'Srch', 'banana');
  await append(a, 'Srch', 'cherry', '\\Flagged');
  let r = await a.cmd('SELECT Srch');
  r = await a.cmd('SEARCH UNSEEN');
  assert.deepEqual(r.untagged, ['* SEARCH 2 3']);
  r = await a.cmd('UID SEARCH SUBJECT banana');
  assert.deepEqual(r.untagged, ['* SEARCH 2']);
  r = await a.cmd('SEARCH RETURN (MIN MAX COUNT ALL) ALL');
  assert.match(r.untagged[0]!, /^\* ESEARCH \(TAG "t\d+"\) MIN 1 MAX 3 COUNT 3 ALL 1:3$/);
  r = await a.cmd('UID SEARCH RETURN () FLAGGED');
  assert.match(r.untagged[0]!, /^\* ESEARCH \(TAG "t\d+"\) UID ALL 3$/);
  r = await a.cmd('SEARCH RETURN (SAVE) OR SEEN FLAGGED');
  assert.deepEqual(r.untagged, []);
  r = await a.cmd('FETCH $ (UID)');
  assert.deepEqual(r.untagged, ['* 1 FETCH (UID 1)', '* 3 FETCH (UID 3)']);
  r = await a.cmd('SEARCH CHARSET ISO-8859-1 ALL');
  assert.match(r.text, /BADCHARSET/);
  r = await a.cmd('ENABLE CONDSTORE');
  r = await a.cmd('SEARCH MODSEQ 1');
  assert.match(r.untagged[0]!, /^\* SEARCH 1 2 3 \(MODSEQ \d+\)$/);
  r = await a.cmd('ENABLE IMAP4rev2');
  r = await a.cmd('SEARCH SEEN');
  assert.match(r.untagged[0]!, /^\* ESEARCH \(TAG "t\d+"\) ALL 1$/);
  a.close();
});

test('pipelined LITERAL+ APPENDs are stored concurrently and answered in order', async () => {
  const a = await login();
  await a.cmd('CREATE Pipe');
  const tags: string[] = [];
  let out = '';
  for (let i = 0; i < 30; i++) {
    const m = message(`pipe ${i}`);
    const tag = a.nextTag();
    tags.push(tag);
    out += `${tag} APPEND Pipe {${Buffer.byteLength(m)}+}\r\n${m}\r\n`;
    if (i === 10) out += `${a.nextTag()} APPEND Nope {3+}\r\nabc\r\n`;
  }
  const noop = a.nextTag();
  a.write(out + `${noop} NOOP\r\n`);
  const seen: string[] = [];
  for (;;) {
    const l = await a.line();
    seen.push(l);
    if (l.startsWith(noop + ' ')) break;
  }
  const tagged = seen.filter((l) => /^t\d+ /.test(l));
  const order = tagged.map((l) => l.split(' ')[0]);
  assert.deepEqual(order, [...order].sort((x, y) => Number(x.slice(1)) - Number(y.slice(1))));
  const uids = tagged.filter((l) => l.includes('APPENDUID')).map((l) => Number(/APPENDUID \d+ (\d+)/.exec(l)![1]));
  assert.deepEqual(uids, Array.from({ length: 30 }, (_, i) => i + 1));
  assert.equal(tagged.filter((l) => /TRYCREATE/.test(l)).length, 1);
  const r = await a.cmd('SELECT Pipe');
  assert.ok(r.untagged.includes('* 30 EXISTS'));
  r.untagged.length = 0;
  const f = await a.cmd('FETCH 12 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
  assert.match(f.untagged[0]!, /Subject: pipe 11/);
  a.close();
});

const IDLE_TIMEOUT_MS = 1500;

test('autologout after the idle timeout, but not during IDLE', async () => {
  // The timeout must exceed any pause between our own commands on a loaded machine (the second
  // session below must not be logged out between its commands), so it is not tiny.
  const srv = await startTestServer({ imap: true, passwords: { mjl: PASS }, imapIdleTimeoutMs: IDLE_TIMEOUT_MS });
  try {
    const c = await RawImap.connect(srv.imapPort);
    await c.line();
    assert.equal((await c.cmd(`LOGIN mjl@example.com "${PASS}"`)).status, 'OK');
    await c.cmd('SELECT INBOX');
    c.write('i IDLE\r\n');
    assert.match(await c.line(), /^\+ /);
    // While idling the timer is off: a message appended by another session still arrives
    // well after the timeout would have fired.
    await new Promise((r) => setTimeout(r, IDLE_TIMEOUT_MS * 1.5)); // longer than the timeout, on purpose
    const other = await RawImap.connect(srv.imapPort);
    await other.line();
    await other.cmd(`LOGIN mjl@example.com "${PASS}"`);
    const m = 'Subject: late\r\n\r\nx\r\n';
    await other.cmd(`APPEND INBOX {${m.length}+}\r\n${m}`);
    assert.match(await c.line(), /^\* \d+ EXISTS$/);
    c.write('DONE\r\n');
    let l = await c.line();
    while (!l.startsWith('i ')) l = await c.line();
    assert.match(l, /^i OK/);
    // Now idle without IDLE: BYE, then the server closes.
    assert.equal(await c.line(), '* BYE autologout, idle for too long');
    other.close();
  } finally {
    await srv.stop();
  }
});
