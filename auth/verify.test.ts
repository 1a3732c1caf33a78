import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { authenticate, sealMessage, dkimVerify } from 'mailauth';
import { generateDkimKey, dkimTxtRecord } from './dkim-keys.js';
import { dkimSign } from './dkim-sign.js';
import { verifyMessage, dmarcRejects, dmarcQuarantines, mailauthResolver, authResultsHeader, dkimVerifyInput, headerSectionEnd, unsignedHeaderSection, unsignedDkimResult, fromFieldValues, memoizedVerdict, type VerifyInput } from './verify.js';
import { startTestDns, type TestDns } from '../dns/testserver.js';
import { cachingResolver, POSITIVE_TTL_MS } from '../dns/cache.js';

const GOOD_IP = '192.0.2.10';
const BAD_IP = '198.51.100.7';
const HOST = 'mx.moxts.example';
const key = generateDkimKey('ed25519');
const arcKey = generateDkimKey('rsa'); // mailauth seals ARC with RSA only
let dns: TestDns;

before(async () => {
  dns = await startTestDns({
    'example.org': { TXT: [`v=spf1 ip4:${GOOD_IP} -all`] },
    'sub.example.org': { TXT: [`v=spf1 ip4:${GOOD_IP} -all`] },
    'soft.example': { TXT: [`v=spf1 ip4:${GOOD_IP} ~all`] },
    'nospf.example': { A: ['192.0.2.1'] },
    'other.example': { TXT: [`v=spf1 ip4:${GOOD_IP} -all`] },
    'mail.helo.example': { TXT: [`v=spf1 ip4:${GOOD_IP} -all`] },
    'broken.example': { servfail: true },
    'sel._domainkey.example.org': { TXT: [dkimTxtRecord(key)] },
    'sel._domainkey.sub.example.org': { TXT: [dkimTxtRecord(key)] },
    'sel._domainkey.other.example': { TXT: [dkimTxtRecord(key)] },
    'arc._domainkey.forwarder.example': { TXT: [dkimTxtRecord(arcKey)] },
  });
});
after(() => dns.close());

function msg(from: string, body = 'Hello.\r\n'): Buffer {
  return Buffer.from(
    `From: <${from}>\r\nTo: <bob@moxts.example>\r\nSubject: test\r\nDate: Sat, 21 Nov 2026 12:00:00 +0000\r\nMessage-ID: <x@example>\r\n\r\n${body}`,
  );
}

async function signed(from: string, domain: string, opts: { body?: string; expirationSeconds?: number; now?: number } = {}) {
  const m = msg(from, opts.body);
  const sig = await dkimSign(m, {
    domain,
    selectors: [{ selector: 'sel', privateKeyPem: key, expirationSeconds: opts.expirationSeconds }],
    clock: opts.now !== undefined ? { now: () => opts.now! } : undefined,
  });
  return Buffer.concat([Buffer.from(sig), m]);
}

function verify(p: Partial<VerifyInput> & { message: VerifyInput['message'] }) {
  return verifyMessage({ ip: GOOD_IP, helo: 'mail.helo.example', mailFrom: '', hostname: HOST, resolver: dns.resolver, ...p });
}

function dmarcRecord(name: string, txt: string | null) {
  dns.set(`_dmarc.${name}`, txt === null ? null : { TXT: [txt] });
}

test('spf: pass, fail, softfail, none for the MAIL FROM domain', async () => {
  const m = msg('alice@example.org');
  let v = await verify({ message: m, mailFrom: 'bounce@example.org' });
  assert.deepEqual([v.spf.result, v.spf.domain, v.spf.identity], ['pass', 'example.org', 'mailfrom']);
  assert.match(v.authResultsHeader, /spf=pass smtp\.mailfrom=bounce@example\.org/);
  assert.match(v.receivedSpfHeader, /^Received-SPF: pass \(.*\)\r\n\tclient-ip=192\.0\.2\.10;\r\n\tenvelope-from="bounce@example\.org";/);
  assert.match(v.receivedSpfHeader, /identity=mailfrom\r\n$/);

  v = await verify({ message: m, mailFrom: 'bounce@example.org', ip: BAD_IP });
  assert.equal(v.spf.result, 'fail');
  assert.ok(v.spf.explanation?.includes('does not designate'));
  v = await verify({ message: m, mailFrom: 'x@soft.example', ip: BAD_IP });
  assert.equal(v.spf.result, 'softfail');
  v = await verify({ message: m, mailFrom: 'x@nospf.example' });
  assert.equal(v.spf.result, 'none');
  v = await verify({ message: m, mailFrom: 'x@nonexistent.example' });
  assert.equal(v.spf.result, 'none');
  v = await verify({ message: m, mailFrom: 'x@broken.example' });
  assert.equal(v.spf.result, 'temperror');
});

test('spf: null MAIL FROM uses the HELO identity', async () => {
  const m = msg('alice@example.org');
  let v = await verify({ message: m, mailFrom: '', helo: 'mail.helo.example' });
  assert.deepEqual([v.spf.result, v.spf.domain, v.spf.identity], ['pass', 'mail.helo.example', 'helo']);
  assert.match(v.authResultsHeader, /spf=pass smtp\.helo=mail\.helo\.example/);
  assert.match(v.receivedSpfHeader, /envelope-from="postmaster@mail\.helo\.example"/);
  assert.match(v.receivedSpfHeader, /identity=helo/);
  v = await verify({ message: m, mailFrom: '', helo: 'mail.helo.example', ip: BAD_IP });
  assert.equal(v.spf.result, 'fail');
  // An address literal as HELO has no SPF record.
  v = await verify({ message: m, mailFrom: '', helo: GOOD_IP });
  assert.equal(v.spf.result, 'none');
});

test('dkim: pass, fail after body change, key missing; unsigned is dkim=none', async () => {
  dmarcRecord('example.org', null);
  const s = await signed('alice@example.org', 'example.org');
  let v = await verify({ message: s, mailFrom: 'bounce@other.example' });
  assert.equal(v.dkim.length, 1);
  assert.deepEqual(v.dkim[0], { result: 'pass', domain: 'example.org', selector: 'sel', algorithm: 'ed25519-sha256', aligned: true });
  assert.deepEqual(v.dkimVerifiedDomains, ['example.org']);
  assert.match(v.authResultsHeader, /\tdkim=pass header\.d=example\.org header\.s=sel header\.a=ed25519-sha256 header\.b=/);

  const tampered = Buffer.from(s.toString().replace('Hello.', 'Hullo.'));
  v = await verify({ message: tampered });
  assert.equal(v.dkim[0]!.result, 'fail');
  assert.equal(v.dkim[0]!.comment, 'body hash did not verify');
  assert.deepEqual(v.dkimVerifiedDomains, []);
  assert.match(v.authResultsHeader, /dkim=fail \(body hash did not verify\) header\.d=example\.org/);

  const nokey = Buffer.from(s.toString().replace('s=sel;', 's=gone;'));
  v = await verify({ message: nokey });
  assert.equal(v.dkim[0]!.result, 'permerror');
  assert.equal(v.dkim[0]!.selector, 'gone');

  v = await verify({ message: msg('alice@example.org') });
  assert.deepEqual(v.dkim, []);
  assert.match(v.authResultsHeader, /\tdkim=none;/);
});

test('dkim: signature expiry is checked against the injected clock', async () => {
  const t0 = Date.UTC(2020, 0, 1);
  const s = await signed('alice@example.org', 'example.org', { expirationSeconds: 3600, now: t0 });
  let v = await verify({ message: s, clock: { now: () => t0 + 60_000 } });
  assert.equal(v.dkim[0]!.result, 'pass');
  v = await verify({ message: s, clock: { now: () => t0 + 7200_000 } });
  assert.notEqual(v.dkim[0]!.result, 'pass');
  assert.match(v.dkim[0]!.comment ?? '', /expired/);
});

test('dmarc: pass via SPF alignment, via DKIM alignment; fail with p=reject rejects', async () => {
  dmarcRecord('example.org', 'v=DMARC1; p=reject');
  // SPF only (no signature), MAIL FROM in the From domain.
  let v = await verify({ message: msg('alice@example.org'), mailFrom: 'bounce@example.org' });
  assert.equal(v.dmarc.result, 'pass');
  assert.deepEqual(v.dmarc.alignment, { spf: true, dkim: false });
  assert.equal(v.dmarc.policy, 'reject');
  assert.equal(v.fromDomain, 'example.org');
  assert.equal(dmarcRejects(v), false);
  assert.match(v.authResultsHeader, /\tdmarc=pass \(p=reject\) header\.from=example\.org;/);

  // DKIM only: SPF passes for another domain, which doesn't align.
  v = await verify({ message: await signed('alice@example.org', 'example.org'), mailFrom: 'bounce@other.example' });
  assert.equal(v.spf.result, 'pass');
  assert.equal(v.dmarc.result, 'pass');
  assert.deepEqual(v.dmarc.alignment, { spf: false, dkim: true });

  // Neither aligned: signed by another domain, SPF for another domain.
  v = await verify({ message: await signed('alice@example.org', 'other.example'), mailFrom: 'bounce@other.example' });
  assert.equal(v.dkim[0]!.result, 'pass');
  assert.equal(v.dkim[0]!.aligned, false);
  assert.equal(v.dmarc.result, 'fail');
  assert.equal(dmarcRejects(v), true);
  assert.match(v.authResultsHeader, /\tdmarc=fail \(p=reject\) header\.from=example\.org;/);

  // SPF fails in the From domain itself: still a DMARC failure.
  v = await verify({ message: msg('alice@example.org'), mailFrom: 'bounce@example.org', ip: BAD_IP });
  assert.equal(v.dmarc.result, 'fail');
  assert.equal(dmarcRejects(v), true);
});

test('dmarc: p=none and p=quarantine do not reject; no record is dmarc=none', async () => {
  const m = msg('alice@example.org');
  dmarcRecord('example.org', 'v=DMARC1; p=none');
  let v = await verify({ message: m, mailFrom: 'bounce@other.example' });
  assert.equal(v.dmarc.result, 'fail');
  assert.equal(v.dmarc.policy, 'none');
  assert.equal(dmarcRejects(v), false);
  assert.equal(dmarcQuarantines(v), false);

  dmarcRecord('example.org', 'v=DMARC1;p=QUARANTINE');
  v = await verify({ message: m, mailFrom: 'bounce@other.example' });
  assert.equal(v.dmarc.policy, 'quarantine');
  assert.equal(dmarcRejects(v), false);
  assert.equal(dmarcQuarantines(v), true);

  dmarcRecord('example.org', null);
  v = await verify({ message: m, mailFrom: 'bounce@other.example' });
  assert.equal(v.dmarc.result, 'none');
  assert.equal(dmarcRejects(v), false);
  assert.match(v.authResultsHeader, /\tdmarc=none header\.from=example\.org;/);

  dmarcRecord('example.org', null);
  dns.set('_dmarc.example.org', { servfail: true });
  v = await verify({ message: m, mailFrom: 'bounce@other.example' });
  assert.equal(v.dmarc.result, 'temperror');
  assert.equal(dmarcRejects(v), false);
  dmarcRecord('example.org', null);
});

test('dmarc: subdomain uses sp= from the organizational domain record', async () => {
  const m = msg('alice@sub.example.org');
  dmarcRecord('sub.example.org', null);
  dmarcRecord('example.org', 'v=DMARC1; p=none; sp=reject');
  let v = await verify({ message: m, mailFrom: 'bounce@other.example' });
  assert.equal(v.dmarc.domain, 'sub.example.org');
  assert.equal(v.dmarc.recordDomain, 'example.org');
  assert.equal(v.dmarc.policy, 'reject');
  assert.equal(dmarcRejects(v), true);

  dmarcRecord('example.org', 'v=DMARC1; p=reject; sp=none');
  v = await verify({ message: m, mailFrom: 'bounce@other.example' });
  assert.equal(v.dmarc.policy, 'none');
  assert.equal(dmarcRejects(v), false);
  // The organizational domain itself gets p=.
  v = await verify({ message: msg('alice@example.org'), mailFrom: 'bounce@other.example' });
  assert.equal(v.dmarc.policy, 'reject');
  assert.equal(dmarcRejects(v), true);

  // A record at the subdomain itself wins, with its p=.
  dmarcRecord('sub.example.org', 'v=DMARC1; p=quarantine; sp=reject');
  v = await verify({ message: m, mailFrom: 'bounce@other.example' });
  assert.equal(v.dmarc.recordDomain, 'sub.example.org');
  assert.equal(v.dmarc.policy, 'quarantine');
  dmarcRecord('sub.example.org', null);
  dmarcRecord('example.org', null);
});

test('dmarc: strict DKIM alignment (adkim=s) is enforced, unlike mailauth 4.13.3', async () => {
  // Signed by d=sub.example.org, From example.org, SPF for an unrelated domain.
  const s = await signed('alice@example.org', 'sub.example.org');
  dmarcRecord('example.org', 'v=DMARC1; p=reject; adkim=s');
  let v = await verify({ message: s, mailFrom: 'bounce@other.example' });
  assert.equal(v.dkim[0]!.result, 'pass');
  assert.equal(v.dkim[0]!.aligned, false);
  assert.equal(v.dmarc.result, 'fail');
  assert.deepEqual(v.dmarc.strict, { adkim: true, aspf: false });
  assert.equal(dmarcRejects(v), true);
  assert.match(v.authResultsHeader, /\tdmarc=fail \(p=reject adkim=s\) header\.from=example\.org;/);
  assert.doesNotMatch(v.authResultsHeader, /dmarc=pass/);

  // mailauth's own verdict for the same message is (wrongly) pass; if this starts failing, the
  // upstream bug is fixed and auth/alignment.ts could defer to mailauth again.
  const ma = await authenticate(s, {
    ip: GOOD_IP, helo: 'mail.helo.example', sender: 'bounce@other.example', mta: HOST,
    resolver: mailauthResolver(dns.resolver), disableBimi: true,
  });
  assert.equal(ma.dmarc && ma.dmarc.status.result, 'pass');

  // Spaces and upper case in the tag are valid too.
  dmarcRecord('example.org', 'v=DMARC1; p=reject; adkim = S');
  v = await verify({ message: s, mailFrom: 'bounce@other.example' });
  assert.equal(v.dmarc.result, 'fail');

  // Relaxed (explicit or default): same organizational domain aligns.
  dmarcRecord('example.org', 'v=DMARC1; p=reject; adkim=r');
  v = await verify({ message: s, mailFrom: 'bounce@other.example' });
  assert.equal(v.dmarc.result, 'pass');
  assert.equal(v.dkim[0]!.aligned, true);
  dmarcRecord('example.org', 'v=DMARC1; p=reject');
  v = await verify({ message: s, mailFrom: 'bounce@other.example' });
  assert.equal(v.dmarc.result, 'pass');
  assert.match(v.authResultsHeader, /\tdmarc=pass \(p=reject\)/);
  dmarcRecord('example.org', null);
});

test('dmarc: strict SPF alignment (aspf=s) is enforced', async () => {
  const m = msg('alice@example.org');
  dmarcRecord('example.org', 'v=DMARC1; p=reject; aspf=s');
  let v = await verify({ message: m, mailFrom: 'bounce@sub.example.org' });
  assert.equal(v.spf.result, 'pass');
  assert.equal(v.spf.domain, 'sub.example.org');
  assert.equal(v.dmarc.result, 'fail');
  assert.deepEqual(v.dmarc.alignment, { spf: false, dkim: false });
  assert.equal(dmarcRejects(v), true);
  assert.match(v.authResultsHeader, /dmarc=fail \(p=reject aspf=s\)/);
  // Exact match passes under strict.
  v = await verify({ message: m, mailFrom: 'bounce@example.org' });
  assert.equal(v.dmarc.result, 'pass');

  dmarcRecord('example.org', 'v=DMARC1; p=reject');
  v = await verify({ message: m, mailFrom: 'bounce@sub.example.org' });
  assert.equal(v.dmarc.result, 'pass');
  assert.deepEqual(v.dmarc.alignment, { spf: true, dkim: false });
  dmarcRecord('example.org', null);
});

test('dmarc: pct= samples which failing messages get the policy', async () => {
  const m = msg('alice@example.org');
  dmarcRecord('example.org', 'v=DMARC1; p=reject; pct=20');
  let v = await verify({ message: m, mailFrom: 'bounce@other.example', random: () => 0.5 });
  assert.equal(v.dmarc.pct, 20);
  assert.equal(v.dmarc.pctApplied, false);
  assert.equal(dmarcRejects(v), false);
  assert.equal(dmarcQuarantines(v), true, 'next less strict policy');
  v = await verify({ message: m, mailFrom: 'bounce@other.example', random: () => 0.1 });
  assert.equal(dmarcRejects(v), true);
  dmarcRecord('example.org', null);
});

test('arc: a message without ARC headers is arc=none', async () => {
  const v = await verify({ message: msg('alice@example.org'), mailFrom: 'bounce@example.org' });
  assert.deepEqual(v.arc, { result: 'none' });
  assert.match(v.authResultsHeader, /\tarc=none\r\n$/);
  assert.match(v.authResultsHeader, new RegExp(`^Authentication-Results: ${HOST.replace(/\./g, '\\.')};\r\n\t`));
});

test('input: file path and stream give the same verdict; result is JSON-serialisable', async () => {
  dmarcRecord('example.org', 'v=DMARC1; p=reject');
  const s = await signed('alice@example.org', 'example.org');
  const dir = mkdtempSync(join(tmpdir(), 'moxts-verify-'));
  try {
    const path = join(dir, 'msg.eml');
    writeFileSync(path, s);
    const a = await verify({ message: s, mailFrom: 'bounce@example.org' });
    const b = await verify({ message: path, mailFrom: 'bounce@example.org' });
    const c = await verify({ message: Readable.from([s.subarray(0, 50), s.subarray(50)]), mailFrom: 'bounce@example.org' });
    assert.deepEqual(b, a);
    assert.deepEqual(c, a);
    assert.deepEqual(JSON.parse(JSON.stringify(a)), a);
    assert.equal(a.dmarc.result, 'pass');
    assert.deepEqual(a.dmarc.alignment, { spf: true, dkim: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
    dmarcRecord('example.org', null);
  }
});

test('from: missing or multiple From domains', async () => {
  const noFrom = Buffer.from('To: <bob@moxts.example>\r\nSubject: x\r\n\r\nbody\r\n');
  let v = await verify({ message: noFrom, mailFrom: 'bounce@example.org' });
  assert.equal(v.fromDomain, '');
  assert.equal(v.dmarc.result, 'none');
  const two = Buffer.from('From: a@example.org, b@other.example\r\nTo: <bob@moxts.example>\r\n\r\nbody\r\n');
  v = await verify({ message: two, mailFrom: 'bounce@example.org' });
  assert.equal(v.dmarc.result, 'permerror');
  assert.equal(dmarcRejects(v), false);
});

test('arc: a sealed forwarded message is arc=pass, a modified one arc=fail', async () => {
  const m = msg('alice@example.org');
  const seal = await sealMessage(m, {
    signingDomain: 'forwarder.example',
    selector: 'arc',
    privateKey: arcKey,
    authResults: 'mx.forwarder.example; spf=pass smtp.mailfrom=example.org; dkim=none; dmarc=pass header.from=example.org',
    cv: 'none',
  } as Parameters<typeof sealMessage>[1]);
  assert.match(seal.toString(), /^ARC-Seal: i=1;/m);
  const sealed = Buffer.concat([seal, m]);
  let v = await verify({ message: sealed, mailFrom: 'bounce@other.example' });
  assert.equal(v.arc.result, 'pass');
  assert.match(v.authResultsHeader, /\tarc=pass \(i=1 spf=pass [^)]*\)\r\n$/);

  const changed = Buffer.from(sealed.toString().replace('Hello.', 'Changed.'));
  v = await verify({ message: changed, mailFrom: 'bounce@other.example' });
  assert.equal(v.arc.result, 'fail');
  assert.match(v.authResultsHeader, /\tarc=fail \(/);
});

test('headers: sender-controlled values are quoted and escaped', () => {
  const h = authResultsHeader(
    HOST,
    {
      spf: { result: 'none', domain: 'x', identity: 'mailfrom' },
      dkim: [{ result: 'fail', domain: 'evil.example; dmarc=pass', selector: 's"el', algorithm: 'rsa-sha256', aligned: false, comment: 'bad (sig)\r\nX: y' }],
      dkimVerifiedDomains: [],
      dmarc: { result: 'none', policy: 'none', domain: 'example.org', pct: 100, pctApplied: true, alignment: { spf: false, dkim: false }, strict: { adkim: false, aspf: false } },
      arc: { result: 'none' },
      fromDomain: 'example.org',
    },
    { mailFrom: '"a b"@example.org', helo: 'x', signatures: ['ab/cd+efgh'] },
  );
  assert.match(h, /dkim=fail \(bad \\\(sig\\\) X: y\) header\.d="evil\.example; dmarc=pass" header\.s="s\\"el" header\.a=rsa-sha256 header\.b="ab\/cd\+ef";/);
  assert.match(h, /smtp\.mailfrom="\\"a b\\"@example\.org"/);
  assert.equal(h.split('\r\n').length, 6, 'no injected lines');
});

test('dkim input: unsigned messages give mailauth only their header section, with identical results', async () => {
  const r = mailauthResolver(dns.resolver);
  const dkim = async (m: Buffer) => {
    const x = await dkimVerify(m, { resolver: r, sender: 'bounce@example.org' } as Parameters<typeof dkimVerify>[1]);
    return { headerFrom: x.headerFrom, envelopeFrom: x.envelopeFrom, results: x.results, arc: (x as { arc?: unknown }).arc };
  };
  const body = 'line one\r\n' + 'x'.repeat(5000) + '\r\n';
  const unsigned = [
    msg('alice@example.org', body),
    Buffer.from('From: "A, B" <a@example.org>, c@other.example\r\nSubject: x\r\n\r\nbody\r\n'),
    Buffer.from('To: bob@moxts.example\r\n\r\n\r\nbody after an empty line\r\n'),
    Buffer.from('X-Note: mentions DKIM-Signature: inside a value\r\nFrom: a@example.org\r\n\r\nbody\r\n'),
    Buffer.from('From: a@example.org\nSubject: bare LF\n\nbody\n'),
  ];
  for (const m of unsigned) {
    const head = dkimVerifyInput(m);
    assert.ok(head.length < m.length, 'only the header section');
    assert.equal(head.length, headerSectionEnd(m));
    assert.deepEqual(await dkim(head), await dkim(m));
  }
  // Whole message: signed (any case, folded or indented name), ARC headers, no header section end, header only.
  const s = await signed('alice@example.org', 'example.org', { body });
  const lower = Buffer.from(s.toString().replace(/^DKIM-Signature/, 'dkim-SIGNATURE'));
  const indented = Buffer.concat([Buffer.from(' '), s]);
  const arcOnly = Buffer.from('From: a@example.org\r\nArc-Seal: i=1; a=rsa-sha256; cv=none\r\n\r\nbody\r\n');
  const later = Buffer.from('From: a@example.org\r\nSubject: x\r\nDKIM-Signature: v=1\r\n\r\nbody\r\n');
  const noEnd = Buffer.from('From: a@example.org\r\nSubject: x\r\n');
  for (const m of [s, lower, indented, arcOnly, later, noEnd]) assert.equal(dkimVerifyInput(m), m);
  assert.equal((await verify({ message: s, mailFrom: 'bounce@example.org' })).dkim[0]!.result, 'pass');
  // Bare LF line ends: the end is where mailauth finds it.
  assert.equal(headerSectionEnd(Buffer.from('A: b\nC: d\n\nbody')), 11);
  assert.equal(headerSectionEnd(Buffer.from('A: b\r\n\nbody')), 7);
  assert.equal(headerSectionEnd(Buffer.from('\r\nbody\r\n')), -1);
});

test('dkim: unsigned messages skip mailauth dkimVerify with the same From addresses and results', async () => {
  const r = mailauthResolver(dns.resolver);
  const unsigned = [
    msg('alice@example.org', 'body\r\n' + 'x'.repeat(5000) + '\r\n'),
    Buffer.from('From: "A, B" <a@example.org>, c@other.example\r\nSubject: x\r\n\r\nbody\r\n'),
    Buffer.from('From: Team: a@example.org, b@example.org;\r\n\r\ngroup members are not top-level\r\n'),
    Buffer.from('From: =?utf-8?q?J=C3=B6rg?= <j@example.org>\r\nFrom: second@other.example\r\n\r\ntwo From fields\r\n'),
    Buffer.from('Subject: x\r\nFROM:\r\n  folded@example.org (comment)\r\n\r\nfolded, any case\r\n'),
    Buffer.from('To: bob@moxts.example\r\n\r\n\r\nno From\r\n'),
    Buffer.from('From: not an address\r\nFrom: <>\r\n\r\nunparsable\r\n'),
    Buffer.from('From: a@example.org\nSubject: bare LF\n\nbody\n'),
    Buffer.from('From: a@example.org\r\nSubject: bare CR\rinside\r\n\r\nbody\r\n'),
    Buffer.from('X-Note: mentions DKIM-Signature: inside a value\r\nFrom: a@example.org\r\n\r\nbody\r\n'),
    Buffer.from('From: j\u00f6rg@b\u00fccher.example\r\n\r\nutf-8 header\r\n'),
    Buffer.from('From: a@example.org\r\n\r\n'),
  ];
  for (const m of unsigned) {
    const head = unsignedHeaderSection(m);
    assert.ok(head, m.toString());
    const x = await dkimVerify(m, { resolver: r, sender: 'bounce@example.org' } as Parameters<typeof dkimVerify>[1]);
    const want = { headerFrom: x.headerFrom, results: x.results, arc: (x as { arc?: unknown }).arc };
    assert.deepEqual(unsignedDkimResult(head), JSON.parse(JSON.stringify(want)), m.toString());
  }
  // Signed, ARC, or without a header section end: mailauth verifies them.
  const s = await signed('alice@example.org', 'example.org');
  for (const m of [s, Buffer.from('From: a@example.org\r\nArc-Seal: i=1; a=rsa-sha256; cv=none\r\n\r\nbody\r\n'), Buffer.from('From: a@example.org\r\n')]) {
    assert.equal(unsignedHeaderSection(m), undefined);
  }
  // The verdicts through verifyMessage are unchanged for an unsigned message.
  const v = await verify({ message: unsigned[1]!, mailFrom: 'bounce@example.org' });
  assert.deepEqual([v.dkim, v.fromDomain, v.dmarc.result, v.dmarc.comment, v.arc.result], [[], '', 'permerror', 'multiple From domains', 'none']);
});

test('dkim: the From field values are the ones mailauth\'s parseHeaders gives, on any header bytes', () => {
  // The reference: mailauth's own parseHeaders, as its DkimVerifier uses it (messageHeaders).
  const mailauthRequire = createRequire(createRequire(import.meta.url).resolve('mailauth'));
  const { parseHeaders } = mailauthRequire('./tools') as { parseHeaders(b: Buffer): { parsed: Array<{ key: string | null; line: Buffer }> } };
  const reference = (b: Buffer) =>
    parseHeaders(b)
      .parsed.filter((h) => h.key === 'from')
      .map((h) => {
        const v = h.line.toString();
        const colon = v.indexOf(':');
        return (colon >= 0 ? v.slice(colon + 1) : v).trim();
      });
  const key = fc.constantFrom('From', 'from', 'FROM', ' From', 'From ', '\tfrom', 'Fro', 'f', 'From\xa0', 'X-From', 'Subject', 'fRoM', '', 'From\r');
  const text = fc.array(fc.constantFrom('a', '@', '<', '>', ',', ' ', '\t', ':', '\xa0', '\x0b', '\r', '"', 'é', 'x.example', '=?utf-8?q?J=C3=B6rg?='), { maxLength: 12 }).map((xs) => xs.join(''));
  const eol = fc.constantFrom('\r\n', '\n', '\r\n', '\r\n');
  const field = fc.tuple(key, fc.constantFrom(':', ': ', '', ' :'), text, fc.array(fc.tuple(fc.constantFrom(' ', '\t', '\xa0', '\x0b', '\r', 'x'), text, eol), { maxLength: 2 }), eol).map(
    ([k, sep, v, cont, e]) => `${k}${sep}${v}${e}${cont.map(([w, t, e2]) => w + t + e2).join('')}`,
  );
  const header = fc.tuple(fc.array(field, { maxLength: 6 }), fc.constantFrom('\r\n', '\n', '', '\r\n\r\n'), fc.constantFrom('latin1', 'utf8') as fc.Arbitrary<BufferEncoding>).map(([fs, end, enc]) => Buffer.from(fs.join('') + end, enc));
  fc.assert(
    fc.property(header, (h) => {
      assert.deepEqual(fromFieldValues(h), reference(h), JSON.stringify(h.toString('latin1')));
    }),
    { numRuns: 5000 },
  );
  for (const h of ['From: a@b.example\r\n\r\n', ' From: x@y.example\r\n\r\n', 'From\r\n : folded@example.org\r\n\r\n', '\nFrom: a@b\n\n', 'From:\r\n\r\n\tfrom: x@y\r\n\r\n', 'From: a\r\n\tb@c\n d\r\n\r\n']) {
    const b = Buffer.from(h);
    assert.deepEqual(fromFieldValues(b), reference(b), JSON.stringify(h));
  }
});

test('unsigned messages: with the DNS cache, the whole verdict is reused exactly as long as the SPF and DMARC answers it came from', async () => {
  let t = 1_700_000_000_000;
  const clock = { now: () => t };
  const resolver = cachingResolver(dns.resolver, { clock });
  const dmarcQueries = () => dns.queries.filter((q) => q.name.toLowerCase() === '_dmarc.vcache.example').length;
  dns.set('vcache.example', { TXT: [`v=spf1 ip4:${GOOD_IP} -all`] });
  dmarcRecord('vcache.example', 'v=DMARC1; p=reject');
  const memoInput = (body?: string, over: Partial<VerifyInput> = {}): VerifyInput => ({ message: msg('alice@vcache.example', body), ip: GOOD_IP, helo: 'mail.helo.example', mailFrom: 'bounce@vcache.example', hostname: HOST, resolver, ...over });
  try {
    assert.equal(memoizedVerdict(memoInput()), undefined, 'nothing memoized yet');
    const first = await verify({ message: msg('alice@vcache.example'), mailFrom: 'bounce@vcache.example', resolver });
    assert.deepEqual([first.spf.result, first.dmarc.result, first.dmarc.policy], ['pass', 'pass', 'reject']);
    // The synchronous lookup finds the same verdict, for another body too; not for another IP.
    assert.equal(memoizedVerdict(memoInput('Other text.\r\n')), first);
    assert.equal(memoizedVerdict(memoInput(undefined, { ip: BAD_IP })), undefined);
    const n = dmarcQueries();
    // Another unsigned message (other body, same From): the same verdict and headers, no lookups.
    const again = await verify({ message: msg('alice@vcache.example', 'Other text.\r\n'), mailFrom: 'bounce@vcache.example', resolver });
    assert.deepEqual(again, first);
    assert.equal(dmarcQueries(), n);
    // Another From address, IP or HELO is another verdict.
    const otherFrom = await verify({ message: msg('mallory@other.example'), mailFrom: 'bounce@vcache.example', resolver });
    assert.equal(otherFrom.dmarc.domain, 'other.example');
    assert.equal((await verify({ message: msg('alice@vcache.example'), mailFrom: 'bounce@vcache.example', resolver, ip: BAD_IP })).dmarc.result, 'fail');
    assert.match((await verify({ message: msg('alice@vcache.example'), mailFrom: 'bounce@vcache.example', resolver, helo: 'other.helo.example' })).receivedSpfHeader, /helo=other\.helo\.example/);
    // The DMARC record changes: the verdict holds until the cached answer expires, then follows.
    dmarcRecord('vcache.example', 'v=DMARC1; p=quarantine');
    t += POSITIVE_TTL_MS - 1;
    assert.equal((await verify({ message: msg('alice@vcache.example'), mailFrom: 'bounce@vcache.example', resolver })).dmarc.policy, 'reject');
    t += 1;
    assert.equal(memoizedVerdict(memoInput()), undefined, 'expired with the answers');
    assert.equal((await verify({ message: msg('alice@vcache.example'), mailFrom: 'bounce@vcache.example', resolver })).dmarc.policy, 'quarantine');
    // pct below 100 samples at random per message: never reused.
    dmarcRecord('vcache.example', 'v=DMARC1; p=reject; pct=50');
    t += POSITIVE_TTL_MS;
    const seen = new Set<boolean>();
    let r = 0;
    for (let i = 0; i < 4; i++) {
      const v = await verify({ message: msg('alice@vcache.example'), mailFrom: 'bounce@vcache.example', resolver, ip: BAD_IP, random: () => (r++ % 2 ? 0.9 : 0.1) });
      seen.add(v.dmarc.pctApplied);
    }
    assert.deepEqual([...seen].sort(), [false, true]);
    // Signed messages are never memoized (their verdict depends on the signature).
    const s1 = await verify({ message: await signed('alice@example.org', 'example.org'), resolver });
    assert.equal(s1.dkim[0]!.result, 'pass');
    const sig = await signed('alice@example.org', 'example.org');
    const s2 = await verify({ message: Buffer.from(sig.toString().replace('Hello.', 'Hullo.')), resolver });
    assert.equal(s2.dkim[0]!.result, 'fail');
  } finally {
    dns.set('vcache.example', null);
    dmarcRecord('vcache.example', null);
  }
});

test('spf: with the DNS cache, a verdict is reused exactly as long as the answers it came from', async () => {
  let t = 1_700_000_000_000;
  const clock = { now: () => t };
  const resolver = cachingResolver(dns.resolver, { clock });
  const m = msg('alice@memo.example');
  const spfQueries = () => dns.queries.filter((q) => /memo\.example$/i.test(q.name) && q.type === 'TXT' && !q.name.startsWith('_dmarc')).length;
  dns.set('memo.example', { TXT: [`v=spf1 ip4:${GOOD_IP} -all`] });
  try {
    const first = await verify({ message: m, mailFrom: 'bounce@memo.example', resolver });
    assert.equal(first.spf.result, 'pass');
    const n = spfQueries();
    assert.equal(n, 1);
    // Another message from the same sender: same verdict and headers, no SPF evaluation or query.
    const again = await verify({ message: m, mailFrom: 'bounce@memo.example', resolver });
    assert.deepEqual(again, first);
    // A different IP is another verdict.
    assert.equal((await verify({ message: m, mailFrom: 'bounce@memo.example', resolver, ip: BAD_IP })).spf.result, 'fail');
    // The record changes: the cached answer, and so the verdict, hold until the answer expires.
    dns.set('memo.example', { TXT: ['v=spf1 -all'] });
    t += POSITIVE_TTL_MS - 1;
    assert.equal((await verify({ message: m, mailFrom: 'bounce@memo.example', resolver })).spf.result, 'pass');
    t += 1;
    assert.equal((await verify({ message: m, mailFrom: 'bounce@memo.example', resolver })).spf.result, 'fail');
    assert.equal(spfQueries(), n + 1);
    // Temporary failures are never reused.
    const q0 = dns.queries.length;
    assert.equal((await verify({ message: m, mailFrom: 'x@broken.example', resolver })).spf.result, 'temperror');
    const q1 = dns.queries.length;
    assert.ok(q1 > q0);
    assert.equal((await verify({ message: m, mailFrom: 'x@broken.example', resolver })).spf.result, 'temperror');
    assert.ok(dns.queries.length > q1, 'asked again');
  } finally {
    dns.set('memo.example', null);
  }
});
