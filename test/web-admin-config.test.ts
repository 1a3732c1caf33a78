/**
 * Admin pages for the configuration (web/admin/domains.ts, accounts.ts, suppressions.ts,
 * logins.ts) against a real server: every action changes domains.conf (or queue.db) through the
 * CLI's functions, the server reloads, and the next page shows the new state. The live DNS check
 * runs against the test DNS server with some of the records published.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { startWebServer, ADMIN_PASSWORD, type WebResponse } from './helpers/web.js';
import { dnsRecordsFor, expectedRecordsFor } from '../cmd/config-ops.js';
import { escapeText } from '../web/html.js';
import { accountDir } from '../store/paths.js';

/** The rows of the first table of a page, each as its cells' inner HTML. */
function tableRows(page: string): string[][] {
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(page)?.[1] ?? '';
  return [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((m) => [...m[1]!.matchAll(/<td>([\s\S]*?)<\/td>/g)].map((c) => c[1]!));
}

function flash(r: WebResponse): string {
  return /<p class="flash [a-z]+" role="[a-z]+">([\s\S]*?)<\/p>/.exec(r.text)?.[1] ?? '';
}

test('admin config pages: domains with DNS records and live check, accounts, addresses, password, limits, suppressions, logins', async (t) => {
  const ts = await startWebServer();
  t.after(() => ts.stop());
  const configPath = join(ts.dir, 'mox.conf');
  const domainsConf = () => readFile(join(ts.dir, 'domains.conf'), 'utf8');
  const admin = ts.admin();
  assert.equal((await admin.login(ADMIN_PASSWORD)).status, 303);

  // --- Domains: add (new DKIM keys, new postmaster account), shown with the DNS records.
  let r = await admin.get('domains');
  assert.equal(r.status, 200);
  assert.match(r.text, /<a href="\/admin\/domains\/example\.com">example\.com<\/a>/);
  r = await admin.submit('domains/add', { domain: 'Example.ORG', account: 'orgadmin', localpart: 'postmaster' });
  assert.equal(r.status, 200);
  assert.match(flash(r), /Domain example\.org added/);
  assert.match(r.text, /<h1>Domain example\.org<\/h1>/);
  const year = new Date().getUTCFullYear();
  const sels = tableRows(r.text.slice(r.text.indexOf('<h2>DKIM selectors')));
  assert.deepEqual(
    sels.map((c) => c.slice(0, 3)),
    [
      [`${year}a`, 'ed25519', 'yes'],
      [`${year}b`, 'rsa', 'yes'],
    ],
  );
  // The records are the text of `moxts config dnsrecords`.
  const zone = await dnsRecordsFor(configPath, 'example.org');
  assert.ok(r.text.includes(`<pre>${escapeText(zone)}</pre>`));
  assert.match(zone, /example\.org\. 300 IN MX 10 mail\.example\.com\./);
  let conf = await domainsConf();
  assert.match(conf, /example\.org:/);
  assert.match(conf, /orgadmin:/);
  assert.match(conf, /postmaster@example\.org/);
  assert.ok(ts.server.dynamic().Domains['example.org'], 'server reloaded domains.conf');

  // Adding it again is a form error on the same page, status 400.
  r = await admin.post('domains/add', { domain: 'example.org', account: 'orgadmin' });
  assert.equal(r.status, 400);
  assert.match(flash(r), /domain example\.org already exists/);
  assert.match(r.text, /<h2>Add a domain<\/h2>/);
  r = await admin.post('domains/add', { domain: 'not a domain', account: 'x' });
  assert.equal(r.status, 400);
  assert.match(flash(r), /invalid domain/);

  // --- Live check: MX, SPF and the ed25519 DKIM key published; DMARC published with another
  // policy; the rest not.
  const expected = await expectedRecordsFor(configPath, 'example.org');
  const want = (purpose: string) => expected.find((e) => e.purpose === purpose)!;
  ts.dns.set('example.org', { MX: [{ exchange: 'mail.example.com', priority: 10 }], TXT: [want('SPF').value, 'google-site-verification=x'] });
  ts.dns.set(`${year}a._domainkey.example.org`, { TXT: [want(`DKIM ${year}a`).value] });
  ts.dns.set('_dmarc.example.org', { TXT: ['v=DMARC1; p=none'] });
  r = await admin.get('domains/example.org/check');
  assert.equal(r.status, 200);
  const status = new Map(tableRows(r.text).map((c) => [c[1]!, /<strong class="check-[a-z]+">([^<]*)<\/strong>/.exec(c[0]!)?.[1]]));
  assert.deepEqual(Object.fromEntries(status), {
    MX: 'OK',
    SPF: 'OK',
    'SPF of the host name': 'missing',
    [`DKIM ${year}a`]: 'OK',
    [`DKIM ${year}b`]: 'missing',
    DMARC: 'different',
    TLSRPT: 'missing',
  });
  assert.match(r.text, /3 OK, 3 missing, 1 different\./);
  assert.match(r.text, /v=DMARC1; p=none/);

  // --- DKIM selectors: add one (not signing), remove it.
  r = await admin.submit('domains/example.org/dkim/add', { selector: 'extra', algorithm: 'ed25519' });
  assert.match(flash(r), /Selector extra added/);
  assert.ok(tableRows(r.text.slice(r.text.indexOf('<h2>DKIM selectors'))).some((c) => c[0] === 'extra' && c[2] === 'no'));
  assert.match(r.text, /extra\._domainkey\.example\.org\. 300 IN TXT/);
  assert.deepEqual([...ts.server.dynamic().Domains['example.org']!.DKIM!.Sign], [`${year}a`, `${year}b`]);
  r = await admin.post('domains/example.org/dkim/add', { selector: 'extra', algorithm: 'rsa' });
  assert.equal(r.status, 400);
  assert.match(flash(r), /already has selector extra/);
  r = await admin.submit('domains/example.org/dkim/remove', { selector: 'extra' });
  assert.match(flash(r), /Selector extra removed/);
  assert.equal(ts.server.dynamic().Domains['example.org']!.DKIM!.Selectors.extra, undefined);

  // Removing a domain still in use is refused with the reason.
  r = await admin.post('domains/example.org/remove', {});
  assert.equal(r.status, 400);
  assert.match(flash(r), /Domain of account\(s\) orgadmin/);
  assert.match(r.text, /<h1>Domain example\.org<\/h1>/);

  // --- Accounts: add, password, log in with it.
  r = await admin.submit('accounts/add', { name: 'alice', address: 'alice@example.org' });
  assert.match(flash(r), /Account alice added/);
  assert.match(r.text, /<h1>Account alice<\/h1>/);
  r = await admin.post('accounts/add', { name: 'alice', address: 'alice2@example.org' });
  assert.equal(r.status, 400);
  assert.match(flash(r), /account already exists/);
  r = await admin.post('accounts/add', { name: 'bob', address: 'bob@nowhere.example' });
  assert.equal(r.status, 400);
  assert.match(flash(r), /nowhere\.example.*not configured/);
  r = await admin.post('accounts/alice/password', { password: 'short' });
  assert.equal(r.status, 400);
  assert.match(flash(r), /at least 8 characters/);
  r = await admin.submit('accounts/alice/password', { password: 'alice-password-1' });
  assert.match(flash(r), /Password of alice set/);
  const alice = ts.account();
  assert.equal((await alice.login('alice-password-1', 'alice@example.org')).status, 303);
  assert.match((await alice.get('')).text, /alice@example\.org/);

  // Addresses: add one, remove it; the last one cannot be removed.
  r = await admin.submit('accounts/alice/address/add', { address: 'alice.two@example.org' });
  assert.match(flash(r), /Address alice\.two@example\.org added/);
  assert.match(await domainsConf(), /alice\.two@example\.org/);
  assert.deepEqual(Object.keys(ts.server.dynamic().Accounts.alice!.Destinations).sort(), ['alice.two@example.org', 'alice@example.org']);
  r = await admin.post('accounts/alice/address/add', { address: 'mjl@example.com' });
  assert.equal(r.status, 400);
  assert.match(flash(r), /already in use by account mjl/);
  r = await admin.submit('accounts/alice/address/remove', { address: 'alice.two@example.org' });
  assert.match(flash(r), /removed/);
  assert.doesNotMatch(await domainsConf(), /alice\.two@example\.org/);
  r = await admin.post('accounts/alice/address/remove', { address: 'alice@example.org' });
  assert.equal(r.status, 400);
  assert.match(flash(r), /cannot remove the last address/);

  // Limits and quota.
  r = await admin.submit('accounts/alice/limits', { MaxOutgoingMessagesPerDay: '50', MaxFirstTimeRecipientsPerDay: '10', QuotaMessageSize: '1000000' });
  assert.match(flash(r), /Limits of alice saved/);
  conf = await domainsConf();
  assert.match(conf, /MaxOutgoingMessagesPerDay: 50/);
  assert.match(conf, /MaxFirstTimeRecipientsPerDay: 10/);
  assert.match(conf, /QuotaMessageSize: 1000000/);
  assert.equal(ts.server.dynamic().Accounts.alice!.MaxOutgoingMessagesPerDay, 50);
  assert.match(r.text, /name="MaxOutgoingMessagesPerDay" type="number" value="50"/);
  r = await admin.post('accounts/alice/limits', { MaxOutgoingMessagesPerDay: 'lots' });
  assert.equal(r.status, 400);
  assert.match(flash(r), /Max outgoing messages per day must be a whole number/);
  r = await admin.submit('accounts/alice/limits', { MaxOutgoingMessagesPerDay: '50', MaxFirstTimeRecipientsPerDay: '10', QuotaMessageSize: '' });
  assert.doesNotMatch(await domainsConf(), /QuotaMessageSize/);

  r = await admin.get('accounts');
  const accRows = tableRows(r.text);
  assert.deepEqual(
    accRows.map((c) => c[0]!.replace(/<[^>]*>/g, '')),
    ['alice', 'mjl', 'orgadmin'],
  );
  assert.equal(accRows[2]![2], "postmaster@example.org");

  // --- Suppressions: add (reason with markup, shown escaped), filter, duplicate, remove.
  r = await admin.submit('suppressions/add', { account: 'alice', address: 'Bob+x@Remote.example', reason: '<script>alert(1)</script>' });
  assert.match(flash(r), /bob\+x@remote\.example added to the suppression list of alice/i);
  assert.ok(r.text.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  assert.ok(!r.text.includes('<script>'));
  await admin.submit('suppressions/add', { account: 'mjl', address: 'carol@remote.example', reason: 'by hand' });
  r = await admin.get('suppressions');
  assert.deepEqual(
    tableRows(r.text).map((c) => [c[0], c[1]]),
    [
      ['alice', 'bob@remote.example'],
      ['mjl', 'carol@remote.example'],
    ],
  );
  r = await admin.get('suppressions?account=mjl');
  assert.deepEqual(
    tableRows(r.text).map((c) => c[1]),
    ['carol@remote.example'],
  );
  r = await admin.post('suppressions/add', { account: 'alice', address: 'bob@remote.example' });
  assert.equal(r.status, 400);
  assert.match(flash(r), /already on the suppression list of alice/);
  r = await admin.post('suppressions/add', { account: 'nobody', address: 'bob@remote.example' });
  assert.equal(r.status, 400);
  assert.match(flash(r), /no such account/);
  r = await admin.post('suppressions/add', { account: 'alice', address: 'not an address' });
  assert.equal(r.status, 400);
  r = await admin.submit('suppressions/remove', { account: 'alice', address: 'bob@remote.example' });
  assert.match(flash(r), /removed from the suppression list of alice/);
  assert.deepEqual(
    ts.server.queue.listSuppressions().map((s) => s.baseAddress),
    ['carol@remote.example'],
  );

  // --- Login attempts: all accounts, one account, keyset pages.
  r = await admin.get('logins');
  assert.equal(r.status, 200);
  let rows = tableRows(r.text);
  assert.ok(rows.some((c) => c[3] === 'web-account' && c[1] === 'alice' && c[8] === 'ok'));
  assert.ok(rows.some((c) => c[3] === 'web-admin' && c[8] === 'ok'));
  const base = Date.now() - 3_600_000;
  for (let i = 0; i < 70; i++) ts.server.authDb.addAttempt({ time: base + i, protocol: 'imap', mechanism: 'PLAIN', remoteIP: '192.0.2.1', account: 'mjl', loginName: `mjl${i}@example.com`, result: 'badcreds' });
  r = await admin.get('logins?account=mjl');
  rows = tableRows(r.text);
  assert.equal(rows.length, 50);
  assert.ok(rows.every((c) => c[1] === 'mjl'));
  assert.equal(rows[0]![2], 'mjl69@example.com');
  const next = /<a href="\/admin\/(logins\?[^"]*)" rel="next">/.exec(r.text)?.[1];
  assert.ok(next, 'link to older attempts');
  r = await admin.get(next.replace(/&amp;/g, '&'));
  rows = tableRows(r.text);
  assert.deepEqual(
    rows.map((c) => c[2]),
    Array.from({ length: 20 }, (_, i) => `mjl${19 - i}@example.com`),
  );
  assert.doesNotMatch(r.text, /rel="next"/);

  // --- Remove the account: confirmation required; then gone with its messages.
  const aliceDir = accountDir(join(ts.dir, 'data'), 'alice');
  await stat(aliceDir);
  r = await admin.post('accounts/alice/remove', {});
  assert.equal(r.status, 400);
  assert.match(flash(r), /Tick the box/);
  r = await admin.submit('accounts/alice/remove', { confirm: '1' });
  assert.match(flash(r), /Account alice removed/);
  assert.doesNotMatch(await domainsConf(), /alice/);
  await assert.rejects(stat(aliceDir), { code: 'ENOENT' });
  assert.equal((await ts.account().login('alice-password-1', 'alice@example.org')).status, 401);
  assert.equal((await admin.get('accounts/alice')).status, 404);

  // With its accounts gone the domain can be removed.
  r = await admin.submit('accounts/orgadmin/remove', { confirm: '1' });
  assert.match(flash(r), /Account orgadmin removed/);
  assert.equal(ts.server.dynamic().Domains['example.org']!.DMARC, undefined, 'report settings delivering to the account go with it');
  r = await admin.submit('domains/example.org/remove', {});
  assert.match(flash(r), /Domain example\.org removed/);
  assert.equal(ts.server.dynamic().Domains['example.org'], undefined);
  assert.equal((await admin.get('domains/example.org')).status, 404);
});
