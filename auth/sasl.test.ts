import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as tls from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { generateSelfSignedCert } from '../cmd/tls-selfsigned.js';
import { hashPassword, scramKeys, type PasswordRecord } from './password.js';
import {
  startSasl,
  saslClient,
  decodeBase64Strict,
  normalizeLoginName,
  isSaslMechanism,
  fakeRecord,
  tlsExporterBinding,
  SASL_MECHANISMS,
  type SaslClient,
  type SaslSession,
  type SaslStep,
  type SaslOptions,
  type ChannelBinding,
} from './sasl.js';

const fast = { scryptN: 1024, scramIterations: 64 };
let recordP: Promise<PasswordRecord> | undefined;
const record = () => (recordP ??= hashPassword('pencil', fast));

/** Lookup like the server's: domain case-insensitive; "mjl@mox.example" → account "mjl". */
function opts(extra: Partial<SaslOptions<string>> = {}): SaslOptions<string> & { looked: string[] } {
  const looked: string[] = [];
  return {
    tls: true,
    lookup: async (u) => {
      looked.push(u);
      return normalizeLoginName(u) === 'mjl@mox.example' ? { account: 'mjl', record: await record() } : undefined;
    },
    looked,
    ...extra,
  };
}

/** Drive a session with a client, through the text (base64) form as protocols do. */
async function run(s: SaslSession<string>, c: SaslClient, ir = true): Promise<SaslStep<string>> {
  const init = ir ? await c.initialResponse() : undefined;
  let r = await s.stepText(init === undefined ? null : init.length ? init.toString('base64') : '=');
  for (let i = 0; 'challenge' in r; i++) {
    assert.ok(i < 5, 'too many rounds');
    r = await s.stepText((await c.respond(r.challenge)).toString('base64'));
  }
  return r;
}

const mechs = [...SASL_MECHANISMS];

for (const mech of mechs) {
  for (const ir of [true, false]) {
    test(`${mech} ${ir ? 'with' : 'without'} initial response: right password succeeds`, async () => {
      const o = opts();
      const c = saslClient(mech, { username: 'mjl@Mox.Example', password: 'pencil', loginInitialResponse: ir });
      const s = startSasl(mech, o);
      const r = await run(s, c, ir);
      assert.deepEqual(r, { done: true, account: 'mjl', username: 'mjl@Mox.Example' });
      assert.equal(s.finished, true);
      assert.deepEqual(o.looked, ['mjl@Mox.Example']);
      if (mech.startsWith('SCRAM')) assert.equal(c.serverVerified, true, 'client verified v=');
      // A finished session accepts nothing more.
      const again = await s.step(Buffer.from('x'));
      assert.ok('failed' in again);
    });
  }

  test(`${mech}: wrong password and unknown user fail the same way`, async () => {
    const wrong = await run(startSasl(mech, opts()), saslClient(mech, { username: 'mjl@mox.example', password: 'pencil!' }));
    const unknown = await run(startSasl(mech, opts()), saslClient(mech, { username: 'nobody@mox.example', password: 'pencil' }));
    assert.deepEqual(wrong, { failed: true, reason: 'badcreds', message: 'invalid credentials', username: 'mjl@mox.example', account: 'mjl' });
    assert.deepEqual(unknown, { failed: true, reason: 'badcreds', message: 'invalid credentials', username: 'nobody@mox.example' });
  });

  test(`${mech}: malformed base64 and "*" cancel`, async () => {
    const bad = await startSasl(mech, opts()).stepText('bWps!!');
    assert.equal('failed' in bad && bad.reason, 'malformed');
    const notPadded = await startSasl(mech, opts()).stepText('bWpsQA');
    assert.equal('failed' in notPadded && notPadded.reason, 'malformed');
    const cancel = await startSasl(mech, opts()).stepText('*');
    assert.equal('failed' in cancel && cancel.reason, 'aborted');
    // Cancel in the middle of the exchange.
    const s = startSasl(mech, opts());
    const first = await s.stepText(null);
    assert.ok('challenge' in first);
    const mid = await s.stepText('*');
    assert.equal('failed' in mid && mid.reason, 'aborted');
    assert.equal(s.finished, true);
    // Bad base64 in a continuation.
    const s2 = startSasl(mech, opts());
    await s2.stepText(null);
    const r2 = await s2.stepText('not base64');
    assert.equal('failed' in r2 && r2.reason, 'malformed');
  });
}

test('strict base64', () => {
  assert.deepEqual(decodeBase64Strict(''), Buffer.alloc(0));
  assert.equal(decodeBase64Strict('AGZvbwBiYXI=')?.toString(), '\0foo\0bar');
  for (const bad of ['=', 'A', 'AB=', 'AB C=', 'QUJD\r\n', 'QU==QUJD', 'QUJ-']) assert.equal(decodeBase64Strict(bad), undefined, bad);
});

test('mechanism names are case-insensitive; unknown mechanisms unsupported', async () => {
  assert.ok(isSaslMechanism('scram-sha-256'));
  assert.ok(isSaslMechanism('cram-md5'));
  assert.equal(isSaslMechanism('DIGEST-MD5'), false);
  const r = await startSasl('DIGEST-MD5', opts()).stepText(null);
  assert.equal('failed' in r && r.reason, 'unsupported');
  const ok = await run(startSasl('plain', opts()), saslClient('PLAIN', { username: 'mjl@mox.example', password: 'pencil' }));
  assert.ok('done' in ok);
  // -PLUS without channel binding data from the protocol is not available.
  const p = await startSasl('SCRAM-SHA-256-PLUS', opts()).stepText(null);
  assert.equal('failed' in p && p.reason, 'unsupported');
});

test('PLAIN and LOGIN need TLS unless allowed', async () => {
  for (const mech of ['PLAIN', 'LOGIN']) {
    const r = await startSasl(mech, opts({ tls: false })).stepText(null);
    assert.equal('failed' in r && r.reason, 'tlsrequired', mech);
    const ok = await run(startSasl(mech, opts({ tls: false, allowPlaintextWithoutTls: true })), saslClient(mech, { username: 'mjl@mox.example', password: 'pencil' }));
    assert.ok('done' in ok, mech);
  }
  // SCRAM does not reveal the password: fine without TLS.
  const r = await run(startSasl('SCRAM-SHA-256', opts({ tls: false })), saslClient('SCRAM-SHA-256', { username: 'mjl@mox.example', password: 'pencil' }));
  assert.ok('done' in r);
});

test('PLAIN: authzid empty or equal to authcid (domain case-insensitive); others refused before lookup', async () => {
  const ok = await run(startSasl('PLAIN', opts()), saslClient('PLAIN', { username: 'mjl@mox.example', authzid: 'mjl@MOX.example', password: 'pencil' }));
  assert.ok('done' in ok);
  const o = opts();
  const bad = await run(startSasl('PLAIN', o), saslClient('PLAIN', { username: 'mjl@mox.example', authzid: 'admin@mox.example', password: 'pencil' }));
  assert.equal('failed' in bad && bad.reason, 'badcreds');
  assert.deepEqual(o.looked, [], 'no lookup, no password work');
  const localpart = await run(startSasl('PLAIN', opts()), saslClient('PLAIN', { username: 'mjl@mox.example', authzid: 'MJL@mox.example', password: 'pencil' }));
  assert.equal('failed' in localpart && localpart.reason, 'badcreds', 'localpart compared as is');
});

test('PLAIN: syntax errors are malformed', async () => {
  for (const msg of ['mjl@mox.example\0pencil', '\0\0pencil', '\0mjl@mox.example\0', 'a\0b\0c\0d']) {
    const r = await startSasl('PLAIN', opts()).step(Buffer.from(msg));
    assert.equal('failed' in r && r.reason, 'malformed', JSON.stringify(msg));
  }
  const utf = await startSasl('PLAIN', opts()).step(Buffer.from([0, 0xff, 0, 0x41]));
  assert.equal('failed' in utf && utf.reason, 'malformed');
  const empty = await startSasl('PLAIN', opts()).stepText('=');
  assert.equal('failed' in empty && empty.reason, 'malformed');
});

test('LOGIN: challenges are "Username:" and "Password:"', async () => {
  const s = startSasl('LOGIN', opts());
  const c1 = await s.step(null);
  assert.deepEqual(c1, { challenge: Buffer.from('Username:') });
  const c2 = await s.step(Buffer.from('mjl@mox.example'));
  assert.deepEqual(c2, { challenge: Buffer.from('Password:') });
  assert.equal(s.username, 'mjl@mox.example');
  assert.deepEqual(await s.step(Buffer.from('pencil')), { done: true, account: 'mjl', username: 'mjl@mox.example' });
  // Initial response = username.
  const s2 = startSasl('LOGIN', opts());
  assert.deepEqual(await s2.stepText(Buffer.from('mjl@mox.example').toString('base64')), { challenge: Buffer.from('Password:') });
  // A missing continuation (null after the first step) is malformed.
  const s3 = startSasl('LOGIN', opts());
  await s3.step(null);
  const r3 = await s3.step(null);
  assert.equal('failed' in r3 && r3.reason, 'malformed');
});

test('lookup errors fail with "error", username kept', async () => {
  const s = startSasl('PLAIN', opts({ lookup: async () => { throw new Error('db gone'); } }));
  const r = await s.step(Buffer.from('\0mjl@mox.example\0pencil'));
  assert.ok('failed' in r && r.error instanceof Error && r.error.message === 'db gone');
  const { error: _e, ...rest } = r;
  assert.deepEqual(rest, { failed: true, reason: 'error', message: 'temporary server error', username: 'mjl@mox.example' });
});

// RFC 7677 §3 and RFC 5802 §5 exchanges through the state machine.
const vectors = [
  {
    mech: 'SCRAM-SHA-256',
    h: 'sha256' as const,
    clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
    serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
    serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
    clientFinal: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
    serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
    salt: 'W22ZaJ0SNY7soEsUEjb6gQ==',
    clientNonce: 'rOprNGfwEbeRWgbNEkqO',
  },
  {
    mech: 'SCRAM-SHA-1',
    h: 'sha1' as const,
    clientFirst: 'n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL',
    serverNonce: '3rfcNHYJY1ZVvWVs7j',
    serverFirst: 'r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096',
    clientFinal: 'c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=',
    serverFinal: 'v=rmF9pqV8S7suAoZWja4dJRkFsKQ=',
    salt: 'QSXCR+Q6sek8bf92',
    clientNonce: 'fyko+d2lbbFgONRv9qkxdawL',
  },
];

async function vectorRecord(): Promise<PasswordRecord> {
  const base = await record();
  return {
    ...base,
    scramSha256: await scramKeys('pencil', Buffer.from(vectors[0]!.salt, 'base64'), 4096, 'sha256'),
    scramSha1: await scramKeys('pencil', Buffer.from(vectors[1]!.salt, 'base64'), 4096, 'sha1'),
  };
}

function vectorOpts(v: (typeof vectors)[number], extra: Partial<SaslOptions<string>> = {}): SaslOptions<string> {
  const rec = vectorRecord();
  return { tls: false, nonce: () => v.serverNonce, lookup: async (u) => (u === 'user' ? { account: 'user', record: await rec } : undefined), ...extra };
}

for (const v of vectors) {
  test(`${v.mech}: RFC example exchange through the state machine`, async () => {
    const s = startSasl(v.mech, vectorOpts(v));
    // Without initial response: empty challenge first.
    assert.deepEqual(await s.step(null), { challenge: Buffer.alloc(0) });
    const sf = await s.step(Buffer.from(v.clientFirst));
    assert.equal('challenge' in sf && sf.challenge.toString(), v.serverFirst);
    const fin = await s.step(Buffer.from(v.clientFinal));
    assert.equal('challenge' in fin && fin.challenge.toString(), v.serverFinal);
    assert.deepEqual(await s.stepText(''), { done: true, account: 'user', username: 'user' });

    // Our client side produces the same messages and checks the server signature.
    const c = saslClient(v.mech, { username: 'user', password: 'pencil', nonce: v.clientNonce });
    assert.equal((await c.initialResponse())!.toString(), v.clientFirst);
    assert.equal((await c.respond(Buffer.from(v.serverFirst))).toString(), v.clientFinal);
    assert.deepEqual(await c.respond(Buffer.from(v.serverFinal)), Buffer.alloc(0));
    assert.equal(c.serverVerified, true);
    // A wrong server signature is caught by the client.
    const c2 = saslClient(v.mech, { username: 'user', password: 'pencil', nonce: v.clientNonce });
    await c2.initialResponse();
    await c2.respond(Buffer.from(v.serverFirst));
    await assert.rejects(c2.respond(Buffer.from(v.serverFinal.slice(0, -6) + 'AAAAA=')), /server signature mismatch/);
    assert.equal(c2.serverVerified, false);
  });

  test(`${v.mech}: wrong proof, nonce and channel-binding mismatches`, async () => {
    const tamper = async (clientFinal: string) => {
      const s = startSasl(v.mech, vectorOpts(v));
      await s.step(Buffer.from(v.clientFirst));
      return s.step(Buffer.from(clientFinal));
    };
    const proof = /p=(.*)$/.exec(v.clientFinal)![1]!;
    const flipped = Buffer.from(proof, 'base64');
    flipped[0]! ^= 1;
    const r1 = await tamper(v.clientFinal.replace(proof, flipped.toString('base64')));
    assert.deepEqual(r1, { failed: true, reason: 'badcreds', message: 'invalid credentials', username: 'user', account: 'user' });
    const r2 = await tamper(v.clientFinal.replace('c=biws', 'c=eSws')); // "y,," instead of "n,,"
    assert.equal('failed' in r2 && r2.reason, 'malformed');
    const r3 = await tamper(v.clientFinal.replace(v.serverNonce, v.serverNonce + 'x'));
    assert.equal('failed' in r3 && r3.reason, 'malformed');
    const r4 = await tamper(v.clientFinal.replace(',p=', ',x=ext,p=')); // optional extension: ignored (then proof fails: AuthMessage differs)
    assert.equal('failed' in r4 && r4.reason, 'badcreds');
    const r5 = await tamper(v.clientFinal.replace(/,p=.*$/, ''));
    assert.equal('failed' in r5 && r5.reason, 'malformed');
    const r6 = await tamper(v.clientFinal.replace('p=', 'p=!'));
    assert.equal('failed' in r6 && r6.reason, 'malformed');
    // Non-empty response to the server-final-message.
    const s = startSasl(v.mech, vectorOpts(v));
    await s.step(Buffer.from(v.clientFirst));
    await s.step(Buffer.from(v.clientFinal));
    const r7 = await s.step(Buffer.from('x'));
    assert.equal('failed' in r7 && r7.reason, 'malformed');
  });
}

test('SCRAM: gs2 header, channel-binding flag, attributes', async () => {
  const v = vectors[0]!;
  const first = async (msg: string, extra: Partial<SaslOptions<string>> = {}) => startSasl(v.mech, vectorOpts(v, extra)).step(Buffer.from(msg));
  const reason = (r: SaslStep<string>) => ('failed' in r ? r.reason : 'challenge' in r ? 'challenge' : 'done');
  assert.equal(reason(await first('n,,n=user,r=abc')), 'challenge');
  // "y": client could bind but thinks we cannot. Fine when we offer no -PLUS…
  assert.equal(reason(await first('y,,n=user,r=abc')), 'challenge');
  // …a downgrade when we do.
  const cb: ChannelBinding = { type: 'tls-exporter', data: Buffer.alloc(32, 7) };
  assert.equal(reason(await first('y,,n=user,r=abc', { channelBinding: cb })), 'malformed');
  // p= with a non-PLUS mechanism.
  assert.equal(reason(await first('p=tls-exporter,,n=user,r=abc', { channelBinding: cb })), 'malformed');
  assert.equal(reason(await first('p=tls-unique,,n=user,r=abc')), 'malformed');
  for (const bad of ['x,,n=user,r=abc', 'n,n=user,r=abc', 'n,,r=abc,n=user', 'n,,n=user', 'n,,n=us=er,r=abc', 'n,,n=,r=abc', 'n,,n=user,r=a,b', 'n,,n=user,r=abc,bogus', 'n,a=,n=user,r=abc']) {
    assert.equal(reason(await first(bad)), 'malformed', bad);
  }
  // m= (mandatory extension) must be refused; other extensions after the nonce are ignored.
  assert.equal(reason(await first('n,,m=foo,n=user,r=abc')), 'malformed');
  assert.equal(reason(await first('n,,n=user,r=abc,x=foo')), 'challenge');
  // authzid must be the user itself.
  assert.equal(reason(await first('n,a=user,n=user,r=abc')), 'challenge');
  assert.equal(reason(await first('n,a=other,n=user,r=abc')), 'badcreds');
});

test('SCRAM: unknown users get a stable fake salt and the default iteration count', async () => {
  const v = vectors[0]!;
  const salts = [];
  for (let i = 0; i < 2; i++) {
    const r = await startSasl(v.mech, vectorOpts(v)).step(Buffer.from('n,,n=nobody,r=abc'));
    assert.ok('challenge' in r);
    const m = /^r=abc.+,s=([^,]+),i=4096$/.exec(r.challenge.toString());
    assert.ok(m, r.challenge.toString());
    salts.push(m[1]);
  }
  assert.equal(salts[0], salts[1]);
  const other = await startSasl(v.mech, vectorOpts(v)).step(Buffer.from('n,,n=nobody2,r=abc'));
  assert.ok('challenge' in other && !other.challenge.toString().includes(`s=${salts[0]},`));
});

test('SCRAM: saslname escaping of "," and "=" in usernames', async () => {
  const rec = await record();
  const o: SaslOptions<string> = { tls: true, lookup: async (u) => (u === 'a,b=c@mox.example' ? { account: 'odd', record: rec } : undefined) };
  const r = await run(startSasl('SCRAM-SHA-256', o), saslClient('SCRAM-SHA-256', { username: 'a,b=c@mox.example', password: 'pencil' }));
  assert.deepEqual(r, { done: true, account: 'odd', username: 'a,b=c@mox.example' });
});

test('SCRAM-*-PLUS with channel-binding data', async () => {
  const cb: ChannelBinding = { type: 'tls-exporter', data: Buffer.alloc(32, 7) };
  for (const mech of ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS']) {
    const ok = await run(startSasl(mech, opts({ channelBinding: cb })), saslClient(mech, { username: 'mjl@mox.example', password: 'pencil', channelBinding: cb }));
    assert.ok('done' in ok, mech);
    // The client sees different TLS data (a MITM terminates TLS): fails.
    const mitm = await run(startSasl(mech, opts({ channelBinding: cb })), saslClient(mech, { username: 'mjl@mox.example', password: 'pencil', channelBinding: { ...cb, data: Buffer.alloc(32, 8) } }));
    assert.equal('failed' in mitm && mitm.reason, 'malformed', mech);
    // Other channel-binding type.
    const other = await run(startSasl(mech, opts({ channelBinding: cb })), saslClient(mech, { username: 'mjl@mox.example', password: 'pencil', channelBinding: { ...cb, type: 'tls-unique' } }));
    assert.equal('failed' in other && other.reason, 'malformed', mech);
    // "n" with a -PLUS mechanism.
    const n = await startSasl(mech, opts({ channelBinding: cb })).step(Buffer.from('n,,n=mjl@mox.example,r=abc'));
    assert.equal('failed' in n && n.reason, 'malformed');
  }
  // The non-PLUS mechanism still works when -PLUS is offered (flag "n").
  const plain = await run(startSasl('SCRAM-SHA-256', opts({ channelBinding: cb })), saslClient('SCRAM-SHA-256', { username: 'mjl@mox.example', password: 'pencil' }));
  assert.ok('done' in plain);
});

test('SCRAM-SHA-256-PLUS over a real TLS 1.3 connection (tls-exporter); TLS 1.2 offers none', async () => {
  const c = await generateSelfSignedCert(['localhost']);
  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    const server = tls.createServer({ key: c.keyPem, cert: c.certPem, minVersion: version, maxVersion: version });
    const accepted = once(server, 'secureConnection') as Promise<[TLSSocket]>;
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    const client = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false });
    await once(client, 'secureConnect');
    const [serverSide] = await accepted;
    try {
      const sb = tlsExporterBinding(serverSide);
      const cb = tlsExporterBinding(client);
      if (version === 'TLSv1.2') {
        assert.equal(sb, undefined);
        continue;
      }
      assert.ok(sb && cb);
      assert.equal(sb.data.length, 32);
      assert.deepEqual(sb, cb, 'both ends derive the same binding');
      const r = await run(startSasl('SCRAM-SHA-256-PLUS', opts({ channelBinding: sb })), saslClient('SCRAM-SHA-256-PLUS', { username: 'mjl@mox.example', password: 'pencil', channelBinding: cb }));
      assert.ok('done' in r);
    } finally {
      client.destroy();
      serverSide.destroy();
      server.close();
    }
  }
});

test('the fake record for unknown users costs what a default record costs and verifies nothing', async () => {
  const f = fakeRecord();
  assert.equal(f.scrypt.N, 1 << 15);
  assert.equal(f.scramSha256.iterations, 4096);
  assert.equal(f, fakeRecord(), 'made once');
  const { verifyPassword } = await import('./password.js');
  assert.equal(await verifyPassword(f, ''), false);
});

test('CRAM-MD5: rfc2195 challenge, no initial response, needs TLS unless allowed, records without states fail', async () => {
  // The challenge looks like a msg-id and carries the host name.
  const s = startSasl('CRAM-MD5', opts({ hostname: 'mail.mox.example' }));
  const ch = await s.stepText(null);
  assert.ok('challenge' in ch);
  assert.match(ch.challenge.toString(), /^<[0-9a-f]+\.\d+@mail\.mox\.example>$/);
  // rfc2195:2 "username SP digest" with the digest in hex.
  const s2 = startSasl('CRAM-MD5', opts());
  await s2.step(null);
  const bad = await s2.step(Buffer.from('mjl@mox.example nothex'));
  assert.equal('failed' in bad && bad.reason, 'malformed');
  // The server speaks first: an initial response (SASL-IR) is refused.
  const ir = await startSasl('CRAM-MD5', opts()).stepText('=');
  assert.equal('failed' in ir && ir.reason, 'malformed');
  // Offered like PLAIN: over TLS unless plaintext is allowed.
  const notls = await startSasl('CRAM-MD5', opts({ tls: false })).stepText(null);
  assert.equal('failed' in notls && notls.reason, 'tlsrequired');
  const allowed = await run(startSasl('CRAM-MD5', opts({ tls: false, allowPlaintextWithoutTls: true })), saslClient('CRAM-MD5', { username: 'mjl@mox.example', password: 'pencil' }));
  assert.ok('done' in allowed);
  // A record from before CRAM-MD5 support (no states) fails like a wrong password.
  const { cramMd5: _omit, ...old } = await record();
  const o = opts({ lookup: async () => ({ account: 'mjl', record: old as PasswordRecord }) });
  const r = await run(startSasl('CRAM-MD5', o), saslClient('CRAM-MD5', { username: 'mjl@mox.example', password: 'pencil' }));
  assert.deepEqual(r, { failed: true, reason: 'badcreds', message: 'invalid credentials', username: 'mjl@mox.example', account: 'mjl' });
});
