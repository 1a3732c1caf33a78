import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, copyFileSync, readFileSync, readdirSync, statSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, loadDynamic } from './load.js';
import { ConfigError } from './errors.js';
import { lookupDestination } from './lookup.js';
import {
  addDomain,
  removeDomain,
  addAccount,
  removeAccount,
  addAddress,
  removeAddress,
  setAccountFields,
  setDomainFields,
  addAlias,
  removeAlias,
  type DomainsFile,
} from './write.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

async function setup(t: { after: (fn: () => void) => void }): Promise<{ f: DomainsFile; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'moxts-write-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(join(repoRoot, 'mox.conf.example'), join(dir, 'mox.conf'));
  copyFileSync(join(repoRoot, 'domains.conf.example'), join(dir, 'domains.conf'));
  const c = await loadConfig(join(dir, 'mox.conf'));
  return { f: { path: c.dynamicPath, static: c.static }, dir };
}

const read = (f: DomainsFile) => readFileSync(f.path, 'utf8');

test('addDomain/removeDomain round trip keeps comments', async (t) => {
  const { f } = await setup(t);
  const before = read(f);
  const cfg = await addDomain(f, 'Example.NET', { account: 'newacc', localpart: 'hello', reportAddresses: true });
  assert.ok(cfg.Domains['example.net']);
  assert.equal(cfg.Domains['example.net']!.LocalpartCatchallSeparator, '+');
  assert.equal(cfg.Accounts.newacc!.Domain, 'example.net');
  assert.equal(lookupDestination(cfg, 'hello+x@example.net')?.kind, 'account');
  const text = read(f);
  assert.match(text, /# user\+anything@example\.com is delivered to user@example\.com\./);
  assert.match(text, /# Fall back to the smarthost after 3 failed direct attempts\./);
  assert.match(text, /^ {2}example\.net:$/m);
  // The on-disk file is what the loader sees.
  assert.deepEqual(await loadDynamic(f.path, f.static), cfg);

  // The domain is in use by the new account, the account by the domain's report addresses.
  await assert.rejects(removeDomain(f, 'example.net'), /domain is the Domain of account\(s\) newacc/);
  await assert.rejects(removeAccount(f, 'newacc'), /Domains\.example\.net\.DMARC\.Account: unknown account "newacc"/);
  await setDomainFields(f, 'example.net', { DMARC: undefined, TLSRPT: undefined });
  await removeAccount(f, 'newacc');
  await removeDomain(f, 'example.net');
  assert.equal(read(f), before);
  await assert.rejects(addDomain(f, 'example.com'), /domain already exists/);
  await assert.rejects(addDomain(f, 'not a domain'), /not a valid domain name/);
  // Back to the original text after removing everything we added.
  await t.test('full round trip', async () => {
    const { f: f2 } = await setup(t);
    const orig = read(f2);
    await addDomain(f2, 'example.net');
    await addAccount(f2, 'bob', 'bob@example.net', { fullName: 'Bob' });
    await removeAccount(f2, 'bob');
    await removeDomain(f2, 'example.net');
    assert.equal(read(f2), orig);
  });
});

test('edits that would make the config invalid are refused and leave the file alone', async (t) => {
  const { f } = await setup(t);
  const before = read(f);
  const ino = statSync(f.path).ino;
  // mjl is the postmaster account (mox.conf) and DMARC/TLSRPT account.
  await assert.rejects(removeAccount(f, 'mjl'), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /mox\.conf:\d+: Postmaster\.Account: unknown account "mjl"/);
    assert.match(e.message, /domains\.conf:\d+: Domains\.example\.com\.DMARC\.Account: unknown account "mjl"/);
    return true;
  });
  await assert.rejects(setAccountFields(f, 'mjl', { KeepRetiredMessagePeriod: '3 days' }), /KeepRetiredMessagePeriod: invalid duration/);
  await assert.rejects(setAccountFields(f, 'mjl', { Bogus: 1 } as never), /Accounts\.mjl\.Bogus: unknown key/);
  await assert.rejects(addAccount(f, 'x', 'x@unknown.example'), /not configured/);
  await assert.rejects(addAccount(f, 'mjl', 'x@example.com'), /account already exists/);
  await assert.rejects(addAddress(f, 'mjl', 'MJL@example.com'), /already in use by account mjl/);
  await assert.rejects(removeAddress(f, 'nobody@example.com'), /no account has address/);
  assert.equal(read(f), before);
  assert.equal(statSync(f.path).ino, ino);
  assert.deepEqual(readdirSync(join(f.path, '..')).sort(), ['domains.conf', 'mox.conf']);
});

test('addresses, fields and aliases; the file is replaced atomically', async (t) => {
  const { f, dir } = await setup(t);
  const ino = statSync(f.path).ino;
  const mode = statSync(f.path).mode;
  let cfg = await addAccount(f, 'alice', 'alice@example.com');
  assert.notEqual(statSync(f.path).ino, ino, 'file replaced by rename, not rewritten in place');
  assert.equal(statSync(f.path).mode, mode, 'mode kept');
  assert.deepEqual(readdirSync(dir).sort(), ['domains.conf', 'mox.conf'], 'no temp files left');

  cfg = await addAddress(f, 'alice', 'al@example.com', { Mailbox: 'Al' });
  assert.equal(lookupDestination(cfg, 'al+x@example.com')?.kind === 'account' && lookupDestination(cfg, 'al@example.com')!.kind, 'account');
  const r = lookupDestination(cfg, 'AL@example.com');
  assert.ok(r?.kind === 'account' && r.account === 'alice' && r.mailbox === 'Al');
  cfg = await removeAddress(f, 'Al@Example.com');
  assert.equal(lookupDestination(cfg, 'al@example.com'), undefined);
  await assert.rejects(removeAddress(f, 'alice@example.com'), /last address/);

  cfg = await setAccountFields(f, 'alice', { LoginDisabled: 'on holiday', KeepRetiredMessagePeriod: '24h' });
  assert.equal(cfg.Accounts.alice!.LoginDisabled, 'on holiday');
  assert.equal(cfg.Accounts.alice!.KeepRetiredMessagePeriod, 86_400_000);
  cfg = await setAccountFields(f, 'alice', { LoginDisabled: undefined });
  assert.equal(cfg.Accounts.alice!.LoginDisabled, undefined);

  cfg = await setDomainFields(f, 'EXAMPLE.com', { Disabled: true });
  assert.equal(lookupDestination(cfg, 'alice@example.com')?.disabled, true);
  cfg = await setDomainFields(f, 'example.com', { Disabled: undefined });

  cfg = await addAlias(f, 'all@example.com', ['alice@example.com', 'mjl@example.com'], { PostPublic: true });
  const al = lookupDestination(cfg, 'all@example.com');
  assert.ok(al?.kind === 'alias');
  assert.deepEqual(al.addresses, ['alice@example.com', 'mjl@example.com']);
  await assert.rejects(addAlias(f, 'bad@example.com', ['stranger@example.org']), /not an address of a local account/);
  await assert.rejects(removeAccount(f, 'alice'), /Aliases\.all\.Addresses\[0\]: "alice@example\.com" is not an address of a local account/);
  cfg = await removeAlias(f, 'all@example.com');
  assert.equal(lookupDestination(cfg, 'all@example.com'), undefined);
  cfg = await removeAccount(f, 'alice');
  assert.equal(cfg.Accounts.alice, undefined);
  // Comments survived all of it.
  assert.match(read(f), /# Incoming DMARC aggregate reports\./);
});

test('concurrent edits are serialised', async (t) => {
  const { f } = await setup(t);
  const names = ['a1', 'a2', 'a3', 'a4', 'a5'];
  await Promise.all(names.map((n) => addAccount(f, n, `${n}@example.com`)));
  const cfg = await loadDynamic(f.path, f.static);
  for (const n of names) assert.ok(cfg.Accounts[n], n);
});

test('editing a file with flow-style mappings turns them into blocks', async (t) => {
  const { f } = await setup(t);
  writeFileSync(f.path, '# flow\nDomains: {example.com: {}}\nAccounts: {mjl: {Domain: example.com, Destinations: {mjl@example.com: {}}}}\n');
  await addDomain(f, 'example.net', { account: 'bob' });
  const text = read(f);
  assert.match(text, /^# flow\nDomains:\n {2}example\.com: \{\}\n {2}example\.net:\n {4}LocalpartCatchallSeparator: \+\n/);
  assert.match(text, /^ {2}bob:\n {4}Domain: example\.net\n {4}Destinations:\n {6}bob@example\.net: \{\}$/m);
  // An invalid current file is not edited.
  writeFileSync(f.path, 'Domains: {}\nAccounts: {}\n');
  await assert.rejects(addDomain(f, 'example.com', { account: 'mjl' }), /Postmaster\.Account: unknown account "mjl"/);
});
