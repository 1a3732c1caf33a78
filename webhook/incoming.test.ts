import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBuffer } from '../message/part.js';
import { incomingPayload, MAX_TEXT_BYTES } from './incoming.js';

const facts = (raw: string | Buffer, over: Record<string, unknown> = {}) => {
  const data = Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
  return { msgId: 5, parsed: parseBuffer(data), data, mailFrom: 'a@b.example', rcptTo: 'x@y.example', remoteIP: '192.0.2.1', receivedAt: new Date(0), mailbox: 'Inbox', ...over };
};

test('headers: groups flattened, IDNA domains in unicode, no Date gives null, missing lists are empty', async () => {
  const p = await incomingPayload(facts('From: x@xn--bcher-kva.example\r\nTo: team: a@b.example, "C, D" <c@d.example>;\r\nSubject: plain\r\n\r\nhi\r\n'));
  assert.deepEqual(p.From, [{ Name: '', Address: 'x@bücher.example' }]);
  assert.deepEqual(p.To, [
    { Name: '', Address: 'a@b.example' },
    { Name: 'C, D', Address: 'c@d.example' },
  ]);
  assert.deepEqual([p.CC, p.BCC, p.ReplyTo, p.References], [[], [], [], []]);
  assert.equal(p.Date, null);
  assert.equal(p.MessageID, '');
  assert.equal(p.Text, 'hi\n');
  assert.equal(p.HTML, '');
  assert.equal(p.Structure.ContentType, 'text/plain');
  assert.equal(p.Meta.Automated, false);
  assert.equal(p.Meta.MailFromValidated, false);
});

test('Automated: null sender, list headers, Auto-Submitted other than "no", multipart/report', async () => {
  const base = 'From: a@b.example\r\nSubject: s\r\n';
  assert.equal((await incomingPayload(facts(base + '\r\nx\r\n', { mailFrom: '' }))).Meta.Automated, true);
  assert.equal((await incomingPayload(facts(base + 'List-Id: <l.example>\r\n\r\nx\r\n'))).Meta.Automated, true);
  assert.equal((await incomingPayload(facts(base + 'Precedence: bulk\r\n\r\nx\r\n'))).Meta.Automated, true);
  assert.equal((await incomingPayload(facts(base + 'Auto-Submitted: auto-replied\r\n\r\nx\r\n'))).Meta.Automated, true);
  assert.equal((await incomingPayload(facts(base + 'Auto-Submitted: no\r\n\r\nx\r\n'))).Meta.Automated, false);
  const report = base + 'Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n';
  assert.equal((await incomingPayload(facts(report))).Meta.Automated, true);
});

test('verdicts: SPF pass of the MAIL FROM, DMARC pass, DKIM domains', async () => {
  const p = await incomingPayload(facts('From: a@b.example\r\n\r\nx\r\n', { auth: { spf: { result: 'pass', identity: 'mailfrom' }, dmarc: { result: 'pass' }, dkimVerifiedDomains: ['b.example'] } }));
  assert.equal(p.Meta.MailFromValidated, true);
  assert.equal(p.Meta.MsgFromValidated, true);
  assert.deepEqual(p.Meta.DKIMVerifiedDomains, ['b.example']);
  const helo = await incomingPayload(facts('From: a@b.example\r\n\r\nx\r\n', { auth: { spf: { result: 'pass', identity: 'helo' } } }));
  assert.equal(helo.Meta.MailFromValidated, false);
});

test('Text is capped at 1 MiB with LF line endings, also read from a file', async () => {
  const line = 'é'.repeat(40) + '\r\n';
  const body = line.repeat(Math.ceil((MAX_TEXT_BYTES * 1.2) / Buffer.byteLength(line)));
  const raw = Buffer.from('From: a@b.example\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n' + body);
  const dir = mkdtempSync(join(tmpdir(), 'moxts-incoming-'));
  try {
    writeFileSync(join(dir, 'm'), raw);
    for (const data of [raw, { tempPath: join(dir, 'm') }]) {
      const p = await incomingPayload({ ...facts(raw), data });
      assert.ok(Buffer.byteLength(p.Text) <= MAX_TEXT_BYTES);
      assert.ok(Buffer.byteLength(p.Text) > MAX_TEXT_BYTES - 100);
      assert.equal(p.Text.includes('\r'), false);
      assert.equal(p.Text.includes('\ufffd'), false, 'not cut inside a character');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
