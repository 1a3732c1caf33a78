/**
 * Webapi against a real server on 127.0.0.1:0 with undici: the suppression and message methods
 * (success and each error code), request encodings (urlencoded, multipart, JSON body), unknown
 * fields, the HTML pages and the OpenAPI document, and authentication (401, LoginDisabled, 429).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { RawSmtp, sendRaw } from './helpers/smtp-client.js';
import { startWebapiServer, post, form, basic, PASSWORD, type WebapiTestServer } from './helpers/webapi.js';
import { WebapiError } from '../webapi/client.js';

let ts: WebapiTestServer;

const MSG = [
  'From: "Some One" <sender@remote.example>',
  'To: <mjl@example.com>, Other <other@example.com>',
  'Cc: cc@remote.example',
  'Subject: =?utf-8?q?gr=C3=BC=C3=9Fe?=',
  'Message-ID: <m1@remote.example>',
  'In-Reply-To: <parent@remote.example>',
  'References: <root@remote.example>',
  'Date: Sat, 21 Nov 2026 12:00:00 +0100',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b1"',
  '',
  '--b1',
  'Content-Type: multipart/alternative; boundary="b2"',
  '',
  '--b2',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'Hall=C3=B6 Welt',
  'line 2',
  '--b2',
  'Content-Type: text/html; charset=utf-8',
  '',
  '<p>Hallo</p>',
  '--b2--',
  '--b1',
  'Content-Type: application/octet-stream',
  'Content-Disposition: attachment; filename="data.bin"',
  'Content-Transfer-Encoding: base64',
  '',
  Buffer.from('binary\x00data').toString('base64'),
  '--b1--',
  '',
].join('\r\n');

async function deliver(message = MSG): Promise<number> {
  const c = await RawSmtp.connect(ts.smtpPort);
  await c.reply();
  await c.cmd('EHLO remote.example');
  const r = await sendRaw(c, 'sender@remote.example', ['mjl@example.com'], message);
  assert.equal(r.code, 250, r.text);
  await c.cmd('QUIT');
  const acc = ts.server.store.account('mjl');
  const inbox = acc.mailbox('Inbox')!;
  const msgs = acc.listMessages(inbox.id);
  return msgs[msgs.length - 1]!.id;
}

before(async () => {
  ts = await startWebapiServer({
    accounts: {
      mjl: { Domain: 'example.com', Destinations: { 'mjl@example.com': {} } },
      other: { Domain: 'example.com', Destinations: { 'other@example.com': {} } },
      off: { Domain: 'example.com', Destinations: { 'off@example.com': {} }, LoginDisabled: 'account under maintenance' },
    },
    passwords: { other: 'otherpass', off: 'offpass' },
  });
});

after(async () => {
  await ts.stop();
});

test('suppression list: add, present, list, duplicate, remove, bad address', async () => {
  const c = ts.client();
  assert.deepEqual(await c.suppressionList(), { Suppressions: [] });
  assert.deepEqual(await c.suppressionAdd({ EmailAddress: 'Some.One+news@Remote.Example', Manual: true, Reason: 'unsubscribed' }), {});
  assert.deepEqual(await c.suppressionPresent({ EmailAddress: 'someone@remote.example' }), { Present: true });
  assert.deepEqual(await c.suppressionPresent({ EmailAddress: 'nobody@remote.example' }), { Present: false });
  const l = await c.suppressionList();
  assert.equal(l.Suppressions.length, 1);
  const s = l.Suppressions[0]!;
  assert.equal(s.Account, 'mjl');
  assert.equal(s.OriginalAddress, 'Some.One+news@remote.example');
  assert.equal(s.Manual, true);
  assert.equal(s.Reason, 'unsubscribed');
  assert.ok(!Number.isNaN(Date.parse(s.Created)));
  // Another account does not see it.
  assert.deepEqual(await ts.client('other@example.com', 'otherpass').suppressionList(), { Suppressions: [] });
  await assert.rejects(c.suppressionAdd({ EmailAddress: 'someone@remote.example' }), (e: WebapiError) => e.code === 'error');
  await assert.rejects(c.suppressionAdd({ EmailAddress: 'not an address' }), (e: WebapiError) => e.code === 'badAddress');
  await assert.rejects(c.suppressionPresent({ EmailAddress: '' }), (e: WebapiError) => e.code === 'badAddress');
  await assert.rejects(c.suppressionRemove({ EmailAddress: 'x@@y' }), (e: WebapiError) => e.code === 'badAddress');
  assert.deepEqual(await c.suppressionRemove({ EmailAddress: 'someone@remote.example' }), {});
  await assert.rejects(c.suppressionRemove({ EmailAddress: 'someone@remote.example' }), (e: WebapiError) => e.code === 'error');
});

test('MessageGet: header fields, text/html, structure, meta from the stored verdicts', async () => {
  const id = await deliver();
  const r = await ts.client().messageGet({ MsgID: id });
  assert.deepEqual(r.Message.From, [{ Name: 'Some One', Address: 'sender@remote.example' }]);
  assert.deepEqual(r.Message.To, [
    { Name: '', Address: 'mjl@example.com' },
    { Name: 'Other', Address: 'other@example.com' },
  ]);
  assert.deepEqual(r.Message.CC, [{ Name: '', Address: 'cc@remote.example' }]);
  assert.deepEqual(r.Message.BCC, []);
  assert.deepEqual(r.Message.ReplyTo, []);
  assert.equal(r.Message.Subject, 'grüße');
  assert.equal(r.Message.MessageID, '<m1@remote.example>');
  assert.deepEqual(r.Message.References, ['<parent@remote.example>', '<root@remote.example>']);
  assert.equal(r.Message.Date, '2026-11-21T11:00:00.000Z');
  assert.equal(r.Message.Text, 'Hallö Welt\nline 2');
  assert.equal(r.Message.HTML, '<p>Hallo</p>');
  assert.equal(r.Structure.ContentType, 'multipart/mixed');
  assert.equal(r.Structure.ContentTypeParams.boundary, 'b1');
  assert.deepEqual(
    r.Structure.Parts.map((p) => [p.ContentType, p.ContentDisposition, p.Filename, p.Parts.length]),
    [
      ['multipart/alternative', '', '', 2],
      ['application/octet-stream', 'attachment', 'data.bin', 0],
    ],
  );
  assert.equal(r.Structure.Parts[1]!.DecodedSize, 11);
  const m = r.Meta;
  assert.equal(m.MailboxName, 'Inbox');
  assert.equal(m.MailFrom, 'sender@remote.example');
  assert.equal(m.RcptTo, 'mjl@example.com');
  assert.equal(m.MsgFrom, 'sender@remote.example');
  assert.equal(m.RemoteIP, '127.0.0.1');
  assert.equal(m.DSN, false);
  // No SPF/DMARC records in the test DNS: nothing validated.
  assert.equal(m.MailFromValidated, false);
  assert.equal(m.MsgFromValidated, false);
  assert.deepEqual(m.DKIMVerifiedDomains, []);
  assert.deepEqual(m.Flags, []);
  assert.equal(m.Size, (await ts.client().messageRawGet({ MsgID: id })).length);
  await assert.rejects(ts.client().messageGet({ MsgID: 999999 }), (e: WebapiError) => e.code === 'messageNotFound' && e.status === 400);
  // Another account's message is not found.
  await assert.rejects(ts.client('other@example.com', 'otherpass').messageGet({ MsgID: id }), (e: WebapiError) => e.code === 'messageNotFound');
});

test('MessageRawGet and MessagePartGet: stored bytes, decoded parts, partNotFound', async () => {
  const id = await deliver();
  const c = ts.client();
  const raw = await c.messageRawGet({ MsgID: id });
  const stored = await ts.server.store.account('mjl').readMessage(id);
  assert.ok(raw.equals(stored));
  assert.ok(raw.toString('latin1').endsWith(MSG));
  const res = await request(`${ts.base}v0/MessageRawGet`, { method: 'POST', ...form({ MsgID: id }), headers: { ...form({}).headers, authorization: basic('mjl@example.com', PASSWORD) } });
  assert.equal(res.headers['content-type'], 'text/plain');
  await res.body.dump();
  assert.equal((await c.messagePartGet({ MsgID: id, PartPath: [0, 0] })).toString('utf8'), 'Hallö Welt\r\nline 2');
  assert.equal((await c.messagePartGet({ MsgID: id, PartPath: [0, 1] })).toString('utf8'), '<p>Hallo</p>');
  assert.equal((await c.messagePartGet({ MsgID: id, PartPath: [1] })).toString('latin1'), 'binary\x00data');
  const body = (await c.messagePartGet({ MsgID: id, PartPath: [] })).toString('latin1');
  assert.ok(body.startsWith('--b1\r\n') && body.trimEnd().endsWith('--b1--'));
  for (const path of [[2], [0, 2], [-1], [1, 0], [0, 0, 0]]) {
    await assert.rejects(c.messagePartGet({ MsgID: id, PartPath: path }), (e: WebapiError) => e.code === 'partNotFound', JSON.stringify(path));
  }
  await assert.rejects(c.messageRawGet({ MsgID: 0 }), (e: WebapiError) => e.code === 'messageNotFound');
  await assert.rejects(c.messagePartGet({ MsgID: 123456, PartPath: [] }), (e: WebapiError) => e.code === 'messageNotFound');
});

test('MessageFlagsAdd/Remove, MessageMove, MessageDelete', async () => {
  const id = await deliver();
  const c = ts.client();
  await c.messageFlagsAdd({ MsgID: id, Flags: ['\\Seen', '$Junk', 'Custom', '\\flagged'] });
  assert.deepEqual((await c.messageGet({ MsgID: id })).Meta.Flags, ['\\seen', '\\flagged', '$junk', 'custom']);
  await c.messageFlagsRemove({ MsgID: id, Flags: ['\\flagged', 'CUSTOM'] });
  assert.deepEqual((await c.messageGet({ MsgID: id })).Meta.Flags, ['\\seen', '$junk']);
  await assert.rejects(c.messageFlagsAdd({ MsgID: id, Flags: ['\\recent'] }), (e: WebapiError) => e.code === 'user');
  await assert.rejects(c.messageFlagsAdd({ MsgID: id, Flags: ['bad keyword'] }), (e: WebapiError) => e.code === 'user');
  await assert.rejects(c.messageFlagsAdd({ MsgID: 424242, Flags: ['\\seen'] }), (e: WebapiError) => e.code === 'messageNotFound');
  await assert.rejects(c.messageFlagsRemove({ MsgID: 424242, Flags: ['\\seen'] }), (e: WebapiError) => e.code === 'messageNotFound');

  await c.messageMove({ MsgID: id, DestMailboxName: 'Archive' });
  const g = await c.messageGet({ MsgID: id });
  assert.equal(g.Meta.MailboxName, 'Archive');
  assert.deepEqual(g.Meta.Flags, ['\\seen', '$junk']);
  await c.messageMove({ MsgID: id, DestMailboxName: 'Archive' }); // already there: no-op
  await assert.rejects(c.messageMove({ MsgID: id, DestMailboxName: 'NoSuchBox' }), (e: WebapiError) => e.code === 'user');
  await assert.rejects(c.messageMove({ MsgID: 424242, DestMailboxName: 'Inbox' }), (e: WebapiError) => e.code === 'messageNotFound');

  await c.messageDelete({ MsgID: id });
  await assert.rejects(c.messageGet({ MsgID: id }), (e: WebapiError) => e.code === 'messageNotFound');
  await assert.rejects(c.messageDelete({ MsgID: id }), (e: WebapiError) => e.code === 'user');
  await assert.rejects(c.messageDelete({ MsgID: 424242 }), (e: WebapiError) => e.code === 'messageNotFound');
  assert.equal(ts.server.store.account('mjl').mailbox('Archive')!.total, 0);
});

test('request encodings: urlencoded, multipart, JSON body; protocol errors', async () => {
  const url = `${ts.base}v0/SuppressionPresent`;
  const auth = { authorization: basic('mjl@example.com', PASSWORD) };
  const req = { EmailAddress: 'x@remote.example' };
  let r = await post(url, form(req).body, { ...form(req).headers, ...auth });
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/json; charset=utf-8');
  assert.deepEqual(JSON.parse(r.text), { Present: false });
  r = await post(url, JSON.stringify(req), { 'content-type': 'application/json', ...auth });
  assert.deepEqual(JSON.parse(r.text), { Present: false });
  const boundary = 'XyZ123';
  const mp = `--${boundary}\r\nContent-Disposition: form-data; name="request"\r\n\r\n${JSON.stringify(req)}\r\n--${boundary}--\r\n`;
  r = await post(url, mp, { 'content-type': `multipart/form-data; boundary=${boundary}`, ...auth });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(JSON.parse(r.text), { Present: false });
  // Go's decoder: null and absent fields are zero values.
  r = await post(`${ts.base}v0/SuppressionList`, form({}).body, { ...form({}).headers, ...auth });
  assert.equal(r.status, 200);

  const cases: Array<[string, string | Buffer, Record<string, string>, RegExp]> = [
    ['unknown field', form({ EmailAddress: 'x@y.example', Bogus: 1 }).body, form({}).headers, /Bogus|nrecognized/],
    ['wrong type', form({ EmailAddress: 5 }).body, form({}).headers, /EmailAddress/],
    ['bad json', 'request=%7B', form({}).headers, /parsing request/],
    ['missing request', 'other=1', form({}).headers, /missing\/empty request/],
    ['empty body', '', form({}).headers, /missing\/empty request/],
    ['unknown content-type', 'x', { 'content-type': 'text/plain' }, /content-type/],
    ['no content-type', 'x', {}, /content-type/],
    ['multipart without boundary', 'x', { 'content-type': 'multipart/form-data' }, /boundary/],
    ['json array', '[]', { 'content-type': 'application/json' }, /parsing request/],
    ['json null', 'null', { 'content-type': 'application/json' }, /parsing request/],
  ];
  for (const [name, body, headers, re] of cases) {
    const x = await post(url, body, { ...headers, ...auth });
    assert.equal(x.status, 400, name);
    assert.equal(x.json().Code, 'protocol', name);
    assert.match(x.json().Message, re, name);
  }
  // Files only for Send.
  const withFile = `--${boundary}\r\nContent-Disposition: form-data; name="request"\r\n\r\n{}\r\n--${boundary}\r\nContent-Disposition: form-data; name="attachedfile"; filename="a.txt"\r\n\r\nhi\r\n--${boundary}--\r\n`;
  const x = await post(`${ts.base}v0/SuppressionList`, withFile, { 'content-type': `multipart/form-data; boundary=${boundary}`, ...auth });
  assert.equal(x.json().Code, 'protocol');
});

test('pages: redirect, index, method pages, openapi.json, 404 and 405', async () => {
  let res = await request(ts.base, { method: 'GET' });
  assert.equal(res.statusCode, 303);
  assert.equal(res.headers.location, '/webapi/v0/');
  await res.body.dump();
  res = await request(`${ts.base}v0/`, { method: 'GET' });
  assert.equal(res.statusCode, 200);
  const index = await res.body.text();
  for (const m of ['Send', 'SuppressionList', 'MessageGet', 'MessageMove', 'openapi.json']) assert.ok(index.includes(`href="${m}"`), m);
  res = await request(`${ts.base}v0/Send`, { method: 'GET' });
  const page = await res.body.text();
  assert.equal(res.statusCode, 200);
  assert.match(res.headers['content-type'] as string, /text\/html/);
  assert.match(page, /<textarea id="webapirequest" name="request"/);
  assert.match(page, /someone@localhost/);
  assert.match(page, /QueueMsgID/);
  res = await request(`${ts.base}v0/openapi.json`, { method: 'GET' });
  const doc = (await res.body.json()) as { openapi: string; paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } };
  assert.equal(doc.openapi, '3.1.0');
  assert.equal(Object.keys(doc.paths).length, 12);
  assert.ok(doc.components.schemas['SendRequest']);
  res = await request(`${ts.base}v0/NoSuchMethod`, { method: 'GET' });
  assert.equal(res.statusCode, 404);
  await res.body.dump();
  res = await request(`${ts.base}v0/NoSuchMethod`, { method: 'POST', body: '', headers: { authorization: basic('mjl@example.com', PASSWORD) } });
  assert.equal(res.statusCode, 404);
  await res.body.dump();
  res = await request(`${ts.base}v0/Send`, { method: 'PUT', body: '' });
  assert.equal(res.statusCode, 405);
  await res.body.dump();
  res = await request(ts.base.slice(0, -1), { method: 'GET' });
  assert.equal(res.statusCode, 308);
  await res.body.dump();
});

test('authentication: 401 with WWW-Authenticate, LoginDisabled, attempts recorded', async () => {
  const url = `${ts.base}v0/SuppressionList`;
  const f = form({});
  for (const headers of [{} as Record<string, string>, { authorization: 'Bearer x' }, { authorization: basic('mjl@example.com', 'wrong') }, { authorization: basic('nobody@example.com', PASSWORD) }]) {
    const r = await post(url, f.body, { ...f.headers, ...headers });
    assert.equal(r.status, 401, JSON.stringify(headers));
    assert.equal(r.headers['www-authenticate'], 'Basic realm="webapi"');
  }
  const d = await post(url, f.body, { ...f.headers, authorization: basic('off@example.com', 'offpass') });
  assert.equal(d.status, 401);
  assert.match(d.text, /login disabled: account under maintenance/);
  const { attempts } = ts.server.authDb.recentAttempts({ limit: 1000 });
  assert.ok(attempts.some((a) => a.protocol === 'webapi' && a.mechanism === 'http-basic' && a.result === 'badcreds' && a.loginName === 'mjl@example.com'));
  assert.ok(attempts.some((a) => a.protocol === 'webapi' && a.result === 'disabled' && a.account === 'off'));
  assert.ok(attempts.some((a) => a.protocol === 'webapi' && a.result === 'ok' && a.account === 'mjl'));
});
