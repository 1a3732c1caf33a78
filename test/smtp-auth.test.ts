/**
 * Sender authentication on incoming SMTP, with a real dns2 DNS server on 127.0.0.1 publishing
 * SPF, DKIM and DMARC records: pass and fail of each check, strict alignment (which mailauth
 * 4.13 gets wrong and we recompute), DMARC p=reject refusal, and the verdicts stored with the
 * message.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { RawSmtp, sendRaw, type Reply } from './helpers/smtp-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { generateDkimKey, dkimTxtRecord } from '../auth/dkim-keys.js';
import { dkimSign } from '../auth/dkim-sign.js';

let ts: TestServer;
const edKey = generateDkimKey('ed25519');
const rsaKey = generateDkimKey('rsa');

before(async () => {
  ts = await startTestServer({
    zone: {
      // SPF allows 127.0.0.1; DMARC reject.
      'good.example': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] },
      '_dmarc.good.example': { TXT: ['v=DMARC1;p=reject'] },
      'client.good.example': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] },
      // SPF never passes: only DKIM can align; DMARC reject, relaxed.
      'signed.example': { TXT: ['v=spf1 -all'] },
      'sel1._domainkey.signed.example': { TXT: [dkimTxtRecord(edKey)] },
      '_dmarc.signed.example': { TXT: ['v=DMARC1;p=reject'] },
      'sub.signed.example': { TXT: ['v=spf1 -all'] },
      'sel2._domainkey.sub.signed.example': { TXT: [dkimTxtRecord(rsaKey)] },
      // Strict DKIM alignment with a subdomain signature.
      'strict.example': { TXT: ['v=spf1 -all'] },
      '_dmarc.strict.example': { TXT: ['v=DMARC1;p=reject;adkim=s'] },
      'sub.strict.example': {},
      'sel2._domainkey.sub.strict.example': { TXT: [dkimTxtRecord(rsaKey)] },
      // Strict SPF alignment: MAIL FROM on a subdomain whose SPF passes.
      'strictspf.example': { TXT: ['v=spf1 -all'] },
      '_dmarc.strictspf.example': { TXT: ['v=DMARC1;p=reject;aspf=s'] },
      'bounce.strictspf.example': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] },
      'relaxedspf.example': { TXT: ['v=spf1 -all'] },
      '_dmarc.relaxedspf.example': { TXT: ['v=DMARC1;p=reject'] },
      'bounce.relaxedspf.example': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] },
      // Failing, but DMARC p=none: delivered with dmarc=fail.
      'lax.example': { TXT: ['v=spf1 -all'] },
      '_dmarc.lax.example': { TXT: ['v=DMARC1;p=none'] },
      // Softfail and no SPF at all, no DMARC.
      'soft.example': { TXT: ['v=spf1 ~all'] },
      'nospf.example': { A: ['192.0.2.1'] },
    },
  });
});

after(async () => {
  await ts.stop();
});

function msg(from: string, extra = ''): string {
  return `From: <${from}>\r\nTo: <mjl@example.com>\r\nSubject: auth test\r\nDate: Sat, 21 Nov 2026 12:00:00 +0000\r\nMessage-ID: <${Math.random().toString(36).slice(2)}@test>\r\n${extra}\r\nHello.\r\n`;
}

async function signed(m: string, domain: string, selector: string, key: string): Promise<string> {
  const h = await dkimSign(Buffer.from(m), { domain, selectors: [{ selector, privateKeyPem: key }] });
  return h + m;
}

async function deliver(mailFrom: string, message: string): Promise<{ reply: Reply; headers?: string; meta?: Record<string, unknown> }> {
  const c = await RawSmtp.connect(ts.smtpPort);
  await c.reply();
  await c.cmd('EHLO client.good.example');
  const a = ts.server.store.account('mjl');
  const box = a.mailbox('Inbox')!;
  const before = a.listMessages(box.id).length;
  const reply = await sendRaw(c, mailFrom, ['mjl@example.com'], message);
  c.close();
  const msgs = a.listMessages(box.id);
  if (msgs.length === before) return { reply };
  const m = msgs[msgs.length - 1]!;
  const raw = (await a.readMessage(m.id)).toString();
  const headers = raw.slice(0, raw.indexOf('\r\nFrom: ') + 2);
  return { reply, headers, meta: a.getMessage(m.id)!.meta as Record<string, unknown> };
}

function auth(meta: Record<string, unknown> | undefined) {
  return (meta as { auth: { spf: { result: string }; dmarc: { result: string; policy: string }; dkimVerifiedDomains: string[] } }).auth;
}

test('SPF pass aligns DMARC: delivered with spf=pass dmarc=pass', async () => {
  const r = await deliver('alice@good.example', msg('alice@good.example'));
  assert.equal(r.reply.code, 250, r.reply.text);
  assert.match(r.headers!, /spf=pass smtp\.mailfrom=/);
  assert.match(r.headers!, /dmarc=pass/);
  assert.match(r.headers!, /^Received-SPF: pass/m);
  assert.equal(auth(r.meta).spf.result, 'pass');
  assert.equal(auth(r.meta).dmarc.result, 'pass');
});

test('SPF fail with DMARC p=reject and no DKIM: 550 5.7.1, nothing stored', async () => {
  const r = await deliver('mallory@signed.example', msg('ceo@signed.example'));
  assert.deepEqual([r.reply.code, r.reply.enhanced], [550, '5.7.1']);
  assert.equal(r.headers, undefined);
});

test('DKIM pass aligns DMARC although SPF fails', async () => {
  const r = await deliver('bounces@signed.example', await signed(msg('news@signed.example'), 'signed.example', 'sel1', edKey));
  assert.equal(r.reply.code, 250, r.reply.text);
  assert.match(r.headers!, /dkim=pass[^;]*header\.d=signed\.example/);
  assert.match(r.headers!, /spf=fail/);
  assert.match(r.headers!, /dmarc=pass/);
  assert.deepEqual(auth(r.meta).dkimVerifiedDomains, ['signed.example']);
});

test('DKIM fail (body changed after signing) with p=reject: 550 5.7.1', async () => {
  const s = (await signed(msg('news@signed.example'), 'signed.example', 'sel1', edKey)).replace('Hello.', 'Hello!');
  const r = await deliver('bounces@signed.example', s);
  assert.deepEqual([r.reply.code, r.reply.enhanced], [550, '5.7.1']);
});

test('relaxed DKIM alignment: a subdomain signature aligns', async () => {
  const r = await deliver('x@signed.example', await signed(msg('news@signed.example'), 'sub.signed.example', 'sel2', rsaKey));
  assert.equal(r.reply.code, 250, r.reply.text);
  assert.match(r.headers!, /dmarc=pass/);
});

test('strict DKIM alignment (adkim=s): a subdomain signature does not align: 550 5.7.1', async () => {
  const r = await deliver('x@strict.example', await signed(msg('news@strict.example'), 'sub.strict.example', 'sel2', rsaKey));
  assert.deepEqual([r.reply.code, r.reply.enhanced], [550, '5.7.1'], 'mailauth 4.13 alone would say pass');
});

test('strict SPF alignment (aspf=s): subdomain MAIL FROM does not align; relaxed does', async () => {
  const strict = await deliver('b@bounce.strictspf.example', msg('news@strictspf.example'));
  assert.deepEqual([strict.reply.code, strict.reply.enhanced], [550, '5.7.1']);
  const relaxed = await deliver('b@bounce.relaxedspf.example', msg('news@relaxedspf.example'));
  assert.equal(relaxed.reply.code, 250, relaxed.reply.text);
  assert.match(relaxed.headers!, /spf=pass/);
  assert.match(relaxed.headers!, /dmarc=pass/);
});

test('DMARC p=none failure is delivered and marked dmarc=fail', async () => {
  const r = await deliver('x@lax.example', msg('x@lax.example'));
  assert.equal(r.reply.code, 250, r.reply.text);
  assert.match(r.headers!, /spf=fail/);
  assert.match(r.headers!, /dmarc=fail/);
  assert.equal(auth(r.meta).dmarc.policy, 'none');
});

test('SPF softfail and none; null reverse path uses HELO', async () => {
  const soft = await deliver('x@soft.example', msg('x@soft.example'));
  assert.equal(soft.reply.code, 250);
  assert.match(soft.headers!, /spf=softfail/);
  const none = await deliver('x@nospf.example', msg('x@nospf.example'));
  assert.equal(none.reply.code, 250);
  assert.match(none.headers!, /spf=none/);
  // A bounce (null reverse path): SPF is checked for the HELO name (rfc7208:2.4).
  const bounce = await deliver('', msg('mailer-daemon@good.example'));
  assert.equal(bounce.reply.code, 250, bounce.reply.text);
  assert.match(bounce.headers!, /^Return-Path: <>\r\n/);
  assert.match(bounce.headers!, /spf=pass[^;]*smtp\.helo=client\.good\.example/);
});
