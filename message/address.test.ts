import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { flattenForImap, parseAddress, parseAddressList } from './address.js';

const A = (name: string | null, mailbox: string | null, host: string | null, adl: string | null = null) => ({ name, adl, mailbox, host });

describe('parseAddressList (rfc5322:3.4)', () => {
  it('plain addr-spec and name-addr', () => {
    assert.deepEqual(parseAddressList('a@b.example'), [A(null, 'a', 'b.example')]);
    assert.deepEqual(parseAddressList('Joe Q. Public <john.q.public@example.com>'), [A('Joe Q. Public', 'john.q.public', 'example.com')]);
    assert.deepEqual(parseAddressList('"Giant; \\"Big\\" Box" <sysservices@example.net>'), [A('Giant; "Big" Box', 'sysservices', 'example.net')]);
  });
  it('lists, comments and whitespace', () => {
    assert.deepEqual(parseAddressList('Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>'), [
      A('Mary Smith', 'mary', 'x.test'),
      A(null, 'jdoe', 'example.org'),
      A('Who?', 'one', 'y.test'),
    ]);
    // rfc5322 appendix A.5: comments are ignored.
    assert.deepEqual(parseAddressList('Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>'), [A('Pete', 'pete', 'silly.test')]);
    assert.deepEqual(parseAddressList('  a@b ,\r\n c@d  '), [A(null, 'a', 'b'), A(null, 'c', 'd')]);
  });
  it('groups (rfc5322 appendix A.1.3)', () => {
    const l = parseAddressList('A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;, Undisclosed recipients:;');
    assert.deepEqual(l, [
      { group: 'A Group', addresses: [A('Ed Jones', 'c', 'a.test'), A(null, 'joe', 'where.test'), A('John', 'jdoe', 'one.test')] },
      { group: 'Undisclosed recipients', addresses: [] },
    ]);
    assert.deepEqual(flattenForImap(l).map((a) => a.mailbox), ['A Group', 'c', 'joe', 'jdoe', null, 'Undisclosed recipients', null]);
    assert.equal(flattenForImap(l)[0]!.host, null);
  });
  it('encoded words are kept raw in names', () => {
    assert.deepEqual(parseAddressList('=?utf-8?Q?J=C3=B6rg?= <j@x.de>'), [A('=?utf-8?Q?J=C3=B6rg?=', 'j', 'x.de')]);
    assert.deepEqual(parseAddressList('"=?utf-8?Q?J=C3=B6rg?=" <j@x.de>'), [A('=?utf-8?Q?J=C3=B6rg?=', 'j', 'x.de')]);
  });
  it('obsolete route, domain literal, quoted local part, UTF-8 (rfc6532)', () => {
    assert.deepEqual(parseAddressList('<@a.test,@b.test:joe@c.test>'), [A(null, 'joe', 'c.test', '@a.test,@b.test')]);
    assert.deepEqual(parseAddressList('x@[192.0.2.1]'), [A(null, 'x', '[192.0.2.1]')]);
    assert.deepEqual(parseAddressList('"john doe"@example.com'), [A(null, 'john doe', 'example.com')]);
    assert.deepEqual(parseAddressList('Jörg <jörg@bücher.example>'), [A('Jörg', 'jörg', 'bücher.example')]);
  });
  it('broken input: best effort, never throws', () => {
    assert.deepEqual(parseAddressList('Name <a@b'), [A('Name', 'a', 'b')]);
    assert.deepEqual(parseAddressList('localonly'), [A(null, 'localonly', '')]);
    assert.deepEqual(parseAddressList('a@b,,, ,c@d'), [A(null, 'a', 'b'), A(null, 'c', 'd')]);
    assert.equal(parseAddressList('"unterminated <a@b>').length, 1);
    assert.deepEqual(parseAddressList('G: a@b'), [{ group: 'G', addresses: [A(null, 'a', 'b')] }]);
    for (const s of ['', '<>', '@', ':;', '((((', '"', '\\', '<<<@>>>', ';;,:,:']) assert.doesNotThrow(() => parseAddressList(s));
  });
  it('parseAddress returns the first mailbox', () => {
    assert.deepEqual(parseAddress('Joe <joe@x.test>, b@c'), A('Joe', 'joe', 'x.test'));
    assert.deepEqual(parseAddress('G: m@x;'), A(null, 'm', 'x'));
    assert.equal(parseAddress(''), null);
  });
});
