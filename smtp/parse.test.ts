import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { splitCommand, parsePathArgs, parseParams, decodeXtext, encodeXtext, formatAddress, parseMailbox, parseEnvid, parseOrcpt, MAX_ORCPT_LENGTH } from './parse.js';
import { SmtpError } from './codes.js';

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof SmtpError) return e.replyText.split(' ').slice(0, 2).join(' ');
    throw e;
  }
  return 'ok';
}

test('splitCommand upper-cases the verb', () => {
  assert.deepEqual(splitCommand('mail FROM:<a@b>'), { verb: 'MAIL', args: 'FROM:<a@b>' });
  assert.deepEqual(splitCommand('QUIT'), { verb: 'QUIT', args: '' });
});

test('MAIL FROM paths, null path, params', () => {
  const p = parsePathArgs('FROM:<User.Name@Example.COM> SIZE=1000 BODY=8BITMIME', 'FROM');
  assert.deepEqual(p.address, { localpart: 'User.Name', domain: 'example.com', domainUnicode: 'example.com' });
  assert.equal(p.params.get('SIZE'), '1000');
  assert.equal(p.params.get('BODY'), '8BITMIME');
  assert.equal(parsePathArgs('FROM:<>', 'FROM').address, undefined);
  assert.equal(parsePathArgs('from: <a@b.example>', 'FROM').address?.localpart, 'a');
  assert.equal(parsePathArgs('FROM:<@relay.example,@r2.example:a@b.example>', 'FROM').address?.domain, 'b.example');
});

test('quoted localparts and address literals', () => {
  const p = parsePathArgs('TO:<"john doe\\"x"@[192.0.2.1]>', 'TO');
  assert.equal(p.address?.localpart, 'john doe"x');
  assert.equal(p.address?.domain, '[192.0.2.1]');
  assert.equal(formatAddress(p.address!), '"john doe\\"x"@[192.0.2.1]');
  assert.equal(parsePathArgs('TO:<postmaster>', 'TO').address?.localpart, 'postmaster');
});

test('SMTPUTF8 addresses need the parameter', () => {
  assert.equal(code(() => parsePathArgs('FROM:<jöran@example.com>', 'FROM')), '553 5.6.7');
  const p = parsePathArgs('FROM:<jöran@bücher.example> SMTPUTF8', 'FROM');
  assert.equal(p.address?.localpart, 'jöran');
  assert.equal(p.address?.domain, 'xn--bcher-kva.example');
  assert.equal(p.address?.domainUnicode, 'bücher.example');
  assert.equal(parsePathArgs('TO:<δοκιμή@παράδειγμα.δοκιμή>', 'TO', true).address?.localpart, 'δοκιμή');
});

test('syntax errors are 501 5.5.4', () => {
  for (const bad of ['FROM:a@b', 'FROM:<a@b', 'FROM:<a@>', 'FROM:<@b>', 'FROM:<a..b@c>', 'TO:<>', 'FROM:<a@b> SIZE=', 'FROM:<a@b> SIZE=1 SIZE=2', 'FROM:<a@-b.example>', 'TO:<"unterminated@b>']) {
    assert.equal(code(() => parsePathArgs(bad, bad.startsWith('TO') ? 'TO' : 'FROM')), '501 5.5.4', bad);
  }
  assert.equal(code(() => parseMailbox(`${'a'.repeat(65)}@b.example`, false)), '553 5.1.3');
});

test('params: keywords, values, errors', () => {
  assert.deepEqual([...parseParams(' NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Bb@c SMTPUTF8')], [
    ['NOTIFY', 'SUCCESS,FAILURE'],
    ['ORCPT', 'rfc822;a+2Bb@c'],
    ['SMTPUTF8', ''],
  ]);
});

test('xtext round-trips any string', () => {
  assert.equal(decodeXtext('a+2Bb+3Dc'), 'a+b=c');
  fc.assert(
    fc.property(fc.string({ unit: 'binary-ascii' }), (s) => {
      assert.equal(decodeXtext(encodeXtext(s)), s);
    }),
    { numRuns: 2000 },
  );
});

test('parsePathArgs never throws anything but SmtpError', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), fc.boolean(), (s, utf8) => {
      for (const kind of ['FROM', 'TO'] as const) {
        try {
          parsePathArgs(`${kind}:${s}`, kind, utf8);
        } catch (e) {
          assert.ok(e instanceof SmtpError, String(e));
        }
      }
    }),
    { numRuns: 5000 },
  );
});

test('ENVID (rfc3461:4.4): xtext, ≤ 100 characters, printable US-ASCII', () => {
  assert.equal(parseEnvid('QQ314159+2Bx+20y'), 'QQ314159+x y');
  assert.equal(parseEnvid('a'.repeat(100)), 'a'.repeat(100));
  assert.equal(code(() => parseEnvid('a'.repeat(101))), '501 5.5.4');
  assert.equal(code(() => parseEnvid('a+0Ab')), '501 5.5.4', 'control character');
  assert.equal(code(() => parseEnvid('a+C3+A9')), '501 5.5.4', 'not ASCII');
  assert.equal(code(() => parseEnvid('a+zz')), '501 5.5.4');
});

test('ORCPT (rfc3461:4.2, rfc6533:3): "type;address" with the address decoded', () => {
  assert.equal(parseOrcpt('rfc822;user+2Btag@example.org', false), 'rfc822;user+tag@example.org');
  assert.equal(parseOrcpt('RFC822;a+3Db@x', false), 'RFC822;a=b@x');
  assert.equal(parseOrcpt('utf-8;\\x{7528}\\x{6237}@example.org', false), 'utf-8;用户@example.org');
  assert.equal(parseOrcpt('utf-8;a\\x{2B}b@example.org', false), 'utf-8;a+b@example.org');
  assert.equal(parseOrcpt('utf-8;用户@例子.测试', true), 'utf-8;用户@例子.测试', 'utf-8-addr-unitext with SMTPUTF8');
  for (const [bad, utf8] of [
    ['nosemicolon', false],
    [';a@b', false],
    ['rfc822;', false],
    ['rf c822;a@b', false],
    ['utf-8;用户@x', false],
    ['utf-8;a\\x{41}@x', false],
    ['utf-8;a\\x{D800}@x', false],
    ['utf-8;a\\b@x', false],
    ['utf-8;a\\x{110000}@x', false],
    ['rfc822;a+4@x', false],
    [`rfc822;${'a'.repeat(MAX_ORCPT_LENGTH)}`, false],
  ] as const) {
    assert.equal(code(() => parseOrcpt(bad, utf8)), '501 5.5.4', bad);
  }
});

test('ORCPT: what our SMTP client sends (smtp/client orcptParam) parses back to the same address', async () => {
  const { orcptParam } = await import('./client/deliver.js');
  fc.assert(
    fc.property(
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }).filter((s) => !/[\s;]/.test(s) && !/[\ud800-\udfff]/.test(s)),
      fc.constantFrom('example.org', 'bücher.example'),
      (lp, domain) => {
        const addr = `${lp}@${domain}`;
        const wire = orcptParam(addr);
        const ascii = /^[\x00-\x7f]*$/.test(addr);
        assert.equal(parseOrcpt(wire, false), `${ascii ? 'rfc822' : 'utf-8'};${addr}`, wire);
      },
    ),
    { numRuns: 1000 },
  );
});

test('parseOrcpt and parseEnvid throw only SmtpErrors on arbitrary input', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 120 }), fc.boolean(), (s, utf8) => {
      for (const f of [() => parseOrcpt(s, utf8), () => parseEnvid(s)]) {
        try {
          f();
        } catch (e) {
          assert.ok(e instanceof SmtpError, String(e));
        }
      }
    }),
    { numRuns: 3000 },
  );
});
