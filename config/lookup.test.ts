import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseStatic, parseDynamic } from './load.js';
import { lookupDestination, lookupRecipient, accountAddresses, accountCatchalls, findDomain, accountForAddress, canonicalLocalpart } from './lookup.js';
import { parseAddress, normalizeDomain, normalizeAddress, isValidLocalpart } from './address.js';

const stat = parseStatic(
  `DataDir: data
Hostname: mail.example.com
Listeners:
  l:
    IPs: [127.0.0.1]
Postmaster:
  Account: mjl
`,
  '/x/mox.conf',
);

const dyn = parseDynamic(
  `Domains:
  example.com:
    LocalpartCatchallSeparators: ["+", "-"]
    DMARC: {Localpart: dmarc-reports, Account: other, Mailbox: DMARC}
    TLSRPT: {Localpart: tlsreports, Domain: example.org, Account: mjl, Mailbox: TLSRPT}
    Aliases:
      Team:
        Addresses: [mjl@example.com, other@example.org]
  example.org:
    LocalpartCaseSensitive: true
  catchall.example: {}
  disabled.example:
    Disabled: true
  bücher.example: {}
Accounts:
  mjl:
    Domain: example.com
    Destinations:
      mjl@example.com:
        Mailbox: Inbox
      Sales@Example.com:
        Mailbox: Sales
      "@catchall.example":
        Mailbox: Catchall
      info@disabled.example: {}
      kontakt@bücher.example: {}
  other:
    Domain: example.org
    Destinations:
      other@example.org:
        Mailbox: Other
      CamelCase@example.org: {}
`,
  '/x/domains.conf',
  stat,
);

function acc(address: string) {
  const r = lookupDestination(dyn, address);
  assert.ok(r, `no result for ${address}`);
  assert.equal(r.kind, 'account', address);
  return r as Extract<typeof r, { kind: 'account' }>;
}

test('address parsing and normalisation', () => {
  assert.deepEqual(parseAddress('User@Example.COM'), { localpart: 'User', domain: 'example.com' });
  assert.deepEqual(parseAddress('a@b@bücher.example'), undefined);
  assert.deepEqual(parseAddress('"a@b"@bücher.example'), { localpart: '"a@b"', domain: 'xn--bcher-kva.example' });
  assert.equal(normalizeDomain('Bücher.Example.'), 'xn--bcher-kva.example');
  assert.equal(normalizeDomain('localhost'), 'localhost');
  assert.equal(normalizeDomain('1.2.3.4'), undefined);
  assert.equal(normalizeDomain('exa mple.com'), undefined);
  assert.equal(normalizeDomain(''), undefined);
  assert.equal(normalizeAddress('X@EXAMPLE.com'), 'X@example.com');
  for (const bad of ['', 'noat', '@example.com', 'user@', 'us er@example.com', 'a..b@example.com', '.a@example.com']) {
    assert.equal(parseAddress(bad), undefined, bad);
  }
  assert.ok(isValidLocalpart("o'brien+tag"));
  assert.ok(isValidLocalpart('jösé'));
  assert.ok(!isValidLocalpart('a'.repeat(65)));
});

test('lookupDestination: exact, case-insensitive and case-sensitive', () => {
  const r = acc('mjl@example.com');
  assert.equal(r.account, 'mjl');
  assert.equal(r.destinationKey, 'mjl@example.com');
  assert.equal(r.mailbox, 'Inbox');
  assert.equal(r.catchall, false);
  assert.equal(r.disabled, false);
  assert.equal(acc('MJL@EXAMPLE.COM').account, 'mjl');
  assert.equal(acc('sales@example.com').mailbox, 'Sales');
  assert.equal(acc('SALES@example.com').destinationKey, 'Sales@Example.com');
  // example.org is case-sensitive.
  assert.equal(acc('other@example.org').mailbox, 'Other');
  assert.equal(lookupDestination(dyn, 'OTHER@example.org'), undefined);
  assert.equal(acc('CamelCase@example.org').account, 'other');
  assert.equal(lookupDestination(dyn, 'camelcase@example.org'), undefined);
});

test('lookupDestination: catchall separators, several of them', () => {
  assert.equal(acc('mjl+news@example.com').destinationKey, 'mjl@example.com');
  assert.equal(acc('mjl-news@example.com').destinationKey, 'mjl@example.com');
  assert.equal(acc('MJL-a+b@example.com').canonicalAddress, 'mjl@example.com');
  assert.equal(acc('sales+x-y@example.com').mailbox, 'Sales');
  // No separators configured for example.org.
  assert.equal(lookupDestination(dyn, 'other+x@example.org'), undefined);
  assert.equal(canonicalLocalpart('A-b+c', dyn.Domains['example.com']!), 'a');
});

test('lookupDestination: @domain catchall, IDN, aliases, unknown, disabled', () => {
  const c = acc('anything@catchall.example');
  assert.equal(c.account, 'mjl');
  assert.equal(c.destinationKey, '@catchall.example');
  assert.equal(c.mailbox, 'Catchall');
  assert.equal(c.catchall, true);
  assert.equal(acc('kontakt@BÜCHER.example').destinationKey, 'kontakt@bücher.example');
  assert.equal(acc('kontakt@xn--bcher-kva.example').account, 'mjl');

  const al = lookupDestination(dyn, 'team+x@example.com');
  assert.ok(al && al.kind === 'alias');
  assert.equal(al.aliasKey, 'Team');
  assert.deepEqual(al.addresses, ['mjl@example.com', 'other@example.org']);

  assert.equal(lookupDestination(dyn, 'nobody@example.com'), undefined);
  assert.equal(lookupDestination(dyn, 'mjl@unknown.example'), undefined);
  assert.equal(lookupDestination(dyn, 'not an address'), undefined);

  const d = acc('info@disabled.example');
  assert.equal(d.disabled, true);
  assert.equal(d.account, 'mjl');
});

test('accountAddresses, findDomain, accountForAddress', () => {
  assert.deepEqual(accountAddresses(dyn.Accounts.mjl!), ['mjl@example.com', 'Sales@Example.com', 'info@disabled.example', 'kontakt@bücher.example']);
  assert.deepEqual(accountCatchalls(dyn.Accounts.mjl!), ['@catchall.example']);
  assert.equal(findDomain(dyn, 'EXAMPLE.COM.')?.key, 'example.com');
  assert.equal(findDomain(dyn, 'xn--bcher-kva.example')?.key, 'bücher.example');
  assert.equal(findDomain(dyn, 'nope.example'), undefined);
  assert.equal(accountForAddress(dyn, 'other@example.org'), 'other');
  assert.equal(accountForAddress(dyn, 'team@example.com'), undefined);
});

test('lookupDestination: DMARC and TLSRPT report addresses are implicit destinations', () => {
  const d = acc('DMARC-Reports@example.com');
  assert.equal(d.account, 'other');
  assert.equal(d.mailbox, 'DMARC');
  assert.equal(d.report, 'dmarc');
  assert.equal(d.destinationKey, 'dmarc-reports@example.com');
  const t = acc('tlsreports@example.org');
  assert.equal(t.account, 'mjl');
  assert.equal(t.mailbox, 'TLSRPT');
  assert.equal(t.report, 'tlsrpt');
  assert.equal(acc('mjl@example.com').report, undefined);
  assert.equal(lookupDestination(dyn, 'tlsreports@example.com'), undefined);
});

test('lookupRecipient: postmaster fallback for configured domains and the hostname', () => {
  const p = lookupRecipient(stat, dyn, 'PostMaster@example.org');
  assert.deepEqual(p, { kind: 'postmaster', canonicalAddress: 'postmaster@example.org', account: 'mjl', mailbox: 'Inbox' });
  assert.equal(lookupRecipient(stat, dyn, 'postmaster@mail.example.com')?.kind, 'postmaster');
  assert.equal(lookupRecipient(stat, dyn, 'postmaster@elsewhere.example'), undefined);
  // A catchall does not take postmaster@; an explicit address does.
  assert.equal(lookupRecipient(stat, dyn, 'postmaster@catchall.example')?.kind, 'postmaster');
  assert.equal(lookupRecipient(stat, dyn, 'x@catchall.example')?.kind, 'account');
  assert.equal(lookupRecipient(stat, dyn, 'mjl@example.com')?.kind, 'account');
});

test('testConfig builds a valid in-memory config for other modules', async () => {
  const { testConfig } = await import('./testconfig.js');
  const c = testConfig({ dataDir: '/tmp/x', accounts: { a: ['a@one.example', 'a2@two.example'], b: ['b@one.example'] } });
  assert.equal(c.static.Postmaster.Account, 'a');
  assert.equal(c.static.DataDir, '/tmp/x');
  assert.equal(lookupDestination(c.dynamic, 'A2+x@two.example')?.kind, 'account');
  assert.equal(lookupDestination(c.dynamic, 'b@one.example')?.kind === 'account' && (lookupDestination(c.dynamic, 'b@one.example') as { account: string }).account, 'b');
  assert.deepEqual(Object.keys(c.dynamic.Domains).sort(), ['one.example', 'two.example']);
});
