import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, copyFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, loadStatic, parseStatic, parseDynamic } from './load.js';
import { ConfigError } from './errors.js';
import type { StaticConfig } from './static-schema.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** 1-based line of the first line containing `needle`. */
function lineOf(text: string, needle: string): number {
  const i = text.split('\n').findIndex((l) => l.includes(needle));
  assert.ok(i >= 0, `needle ${needle} not in text`);
  return i + 1;
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a ConfigError');
}

/** Assert that `fn` throws a ConfigError with a line naming file:line: path and matching msg. */
function assertIssue(fn: () => unknown, file: string, line: number, path: string, msg: RegExp) {
  const e = errorOf(fn);
  const prefix = `${file}:${line}: ${path}: `;
  const hit = e.message.split('\n').find((l) => l.startsWith(prefix) && msg.test(l.slice(prefix.length)));
  assert.ok(hit, `no issue "${prefix}${msg}" in:\n${e.message}`);
}

const STATIC = `DataDir: data
Hostname: mail.example.com
Listeners:
  public:
    IPs: [0.0.0.0]
    TLS:
      KeyCerts:
        - CertFile: cert.pem
          KeyFile: key.pem
    SMTP:
      Enabled: true
    Submissions:
      Enabled: true
Postmaster:
  Account: mjl
Transports:
  relay:
    SMTP:
      Host: relay.example.net
`;

const DYNAMIC = `Domains:
  example.com:
    LocalpartCatchallSeparator: "+"
    DKIM:
      Selectors:
        sel1:
          PrivateKeyFile: dkim/sel1.pem
      Sign: [sel1]
  example.org: {}
Accounts:
  mjl:
    Domain: example.com
    Destinations:
      mjl@example.com: {}
      "@example.org": {}
  other:
    Domain: example.com
    Destinations:
      other@example.com:
        Mailbox: Other
Routes:
  - ToDomain: [.example.net]
    Transport: relay
`;

const stat = (t = STATIC) => parseStatic(t, '/etc/moxts/mox.conf');
const dyn = (t = DYNAMIC, s: StaticConfig = stat()) => parseDynamic(t, '/etc/moxts/domains.conf', s);

test('the repository examples load', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moxts-config-'));
  try {
    copyFileSync(join(repoRoot, 'mox.conf.example'), join(dir, 'mox.conf'));
    copyFileSync(join(repoRoot, 'domains.conf.example'), join(dir, 'domains.conf'));
    const c = await loadConfig(join(dir, 'mox.conf'));
    assert.equal(c.dynamicPath, join(dir, 'domains.conf'));
    assert.equal(c.static.DataDir, join(dir, '..', 'data'));
    assert.equal(c.static.Listeners.public!.SMTP!.Port, 25);
    assert.equal(c.static.Listeners.public!.Submissions!.Port, 465);
    assert.equal(c.static.Listeners.public!.IMAPS!.Port, 993);
    assert.equal(c.static.Listeners.internal!.WebAPIHTTP!.Path, '/webapi/');
    assert.equal(c.static.Listeners.internal!.MetricsHTTP!.Port, 8010);
    assert.equal(c.static.Listeners.public!.TLS!.KeyCerts[0]!.CertFile, join(dir, 'tls/mail.example.com.crt'));
    assert.ok(c.dynamic.Domains['example.com']!.DKIM!.Selectors['2024a']);
    assert.equal(c.dynamic.Domains['example.com']!.DKIM!.Selectors['2024a']!.Expiration, 72 * 3600_000);
    assert.equal(c.dynamic.Accounts.mjl!.Destinations['mjl@example.com']!.Mailbox, 'Inbox');
    // Deep-frozen.
    assert.ok(Object.isFrozen(c.static.Listeners.public!.SMTP));
    assert.ok(Object.isFrozen(c.dynamic.Accounts.mjl!.Destinations));
    assert.throws(() => {
      (c.dynamic.Accounts.mjl as { FullName?: string }).FullName = 'x';
    }, TypeError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('defaults are applied', () => {
  const s = stat();
  assert.equal(s.LogLevel, 'info');
  assert.equal(s.User, 'mox');
  assert.equal(s.Pedantic, false);
  assert.equal(s.Postmaster.Mailbox, 'Inbox');
  assert.equal(s.DataDir, '/etc/moxts/data');
  const l = s.Listeners.public!;
  assert.equal(l.SMTPMaxMessageSize, 100 * 1024 * 1024);
  assert.deepEqual(l.SMTP, { Enabled: true, Port: 25, NoSTARTTLS: false, RequireSTARTTLS: false, FirstTimeSenderDelay: 15_000 });
  assert.equal(l.TLS!.MinVersion, 'TLSv1.2');
  assert.equal(s.Transports!.relay!.SMTP!.Port, 25);
  const d = dyn(undefined, s);
  const acc = d.Accounts.mjl!;
  assert.equal(acc.MaxOutgoingMessagesPerDay, 1000);
  assert.equal(acc.MaxFirstTimeRecipientsPerDay, 200);
  assert.equal(acc.KeepRetiredMessagePeriod, 0);
  assert.equal(acc.Destinations['mjl@example.com']!.Mailbox, 'Inbox');
  assert.equal(d.Accounts.other!.Destinations['other@example.com']!.Mailbox, 'Other');
  assert.equal(d.Domains['example.com']!.DKIM!.Selectors.sel1!.Hash, 'sha256');
  assert.equal(d.Domains['example.com']!.DKIM!.Selectors.sel1!.PrivateKeyFile, '/etc/moxts/dkim/sel1.pem');
  assert.equal(d.Domains['example.org']!.Disabled, false);
  assert.equal(d.Routes![0]!.MinimumAttempts, 0);
});

test('loadStatic: a missing file is a ConfigError naming the file', async () => {
  await assert.rejects(loadStatic('/nonexistent/moxts/mox.conf'), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /^\/nonexistent\/moxts\/mox\.conf: cannot read config file/);
    return true;
  });
});

test('YAML syntax errors give file:line:col', () => {
  const text = STATIC.replace('Hostname: mail.example.com', 'Hostname: [mail.example.com');
  const e = errorOf(() => stat(text));
  assert.match(e.message, /^\/etc\/moxts\/mox\.conf:\d+:\d+: YAML syntax error/);
  assert.ok(e.issues[0]!.line! >= 2 && e.issues[0]!.col! >= 1);
  const dup = STATIC + 'Hostname: again.example.com\n';
  assertIssueLine(() => stat(dup), '/etc/moxts/mox.conf', lineOf(dup, 'again.example.com'), /YAML syntax error: Map keys must be unique/);
  const e2 = errorOf(() => stat('- just\n- a list\n'));
  assert.match(e2.message, /mox\.conf:1: expected a mapping/);
});

function assertIssueLine(fn: () => unknown, file: string, line: number, msg: RegExp) {
  const e = errorOf(fn);
  assert.ok(
    e.issues.some((i) => i.file === file && i.line === line && msg.test(i.message)),
    `no issue at ${file}:${line} matching ${msg} in:\n${e.message}`,
  );
}

test('wrong type names file, line and key path', () => {
  const text = STATIC.replace('      Enabled: true\n    Submissions', '      Enabled: true\n      Port: abc\n    Submissions');
  assertIssue(() => stat(text), '/etc/moxts/mox.conf', lineOf(text, 'Port: abc'), 'Listeners.public.SMTP.Port', /^expected number, got string "abc"$/);
  const t2 = STATIC.replace('IPs: [0.0.0.0]', 'IPs: 0.0.0.0');
  assertIssue(() => stat(t2), '/etc/moxts/mox.conf', lineOf(t2, 'IPs:'), 'Listeners.public.IPs', /^expected list, got string "0.0.0.0"$/);
  const t3 = STATIC + 'LogLevel: verbose\n';
  assertIssue(() => stat(t3), '/etc/moxts/mox.conf', lineOf(t3, 'LogLevel'), 'LogLevel', /expected one of "error".*got string "verbose"/);
  const t4 = DYNAMIC.replace('Domain: example.com\n    Destinations:\n      mjl', 'Domain: example.com\n    MaxOutgoingMessagesPerDay: -1\n    Destinations:\n      mjl');
  assertIssue(() => dyn(t4), '/etc/moxts/domains.conf', lineOf(t4, 'MaxOutgoing'), 'Accounts.mjl.MaxOutgoingMessagesPerDay', /value must be >= 0/);
  const t5 = STATIC.replace('      Enabled: true\n    Submissions', '      Enabled: true\n      FirstTimeSenderDelay: 10\n    Submissions');
  assertIssue(() => stat(t5), '/etc/moxts/mox.conf', lineOf(t5, 'FirstTimeSenderDelay'), 'Listeners.public.SMTP.FirstTimeSenderDelay', /expected string, got number 10/);
  const t6 = STATIC.replace('      Enabled: true\n    Submissions', '      Enabled: true\n      FirstTimeSenderDelay: 10d\n    Submissions');
  assertIssue(() => stat(t6), '/etc/moxts/mox.conf', lineOf(t6, 'FirstTimeSenderDelay'), 'Listeners.public.SMTP.FirstTimeSenderDelay', /invalid duration "10d"/);
});

test('unknown keys are refused, with their own line', () => {
  const text = STATIC.replace('    SMTP:\n      Enabled: true', '    SMTP:\n      Enabled: true\n      Prot: 26');
  assertIssue(() => stat(text), '/etc/moxts/mox.conf', lineOf(text, 'Prot: 26'), 'Listeners.public.SMTP.Prot', /^unknown key \(did you mean Port\?\)$/);
  const t2 = DYNAMIC + 'Acounts: {}\n';
  assertIssue(() => dyn(t2), '/etc/moxts/domains.conf', lineOf(t2, 'Acounts'), 'Acounts', /^unknown key \(did you mean Accounts\?\)$/);
  const t3 = DYNAMIC.replace('      other@example.com:\n        Mailbox: Other', '      other@example.com:\n        Mailbox: Other\n        Mailbx: x');
  assertIssue(() => dyn(t3), '/etc/moxts/domains.conf', lineOf(t3, 'Mailbx'), 'Accounts.other.Destinations.other@example.com.Mailbx', /^unknown key \(did you mean Mailbox\?\)$/);
  const t4 = STATIC + 'Wibble: 1\n';
  assertIssue(() => stat(t4), '/etc/moxts/mox.conf', lineOf(t4, 'Wibble'), 'Wibble', /^unknown key$/);
  const t5 = STATIC.replace('    SMTP:\n      Enabled: true', '    smtp:\n      Enabled: true');
  assertIssue(() => stat(t5), '/etc/moxts/mox.conf', lineOf(t5, 'smtp:'), 'Listeners.public.smtp', /^unknown key \(did you mean SMTP\?\)$/);
});

test('missing required keys point at the parent', () => {
  const text = STATIC.replace('Postmaster:\n  Account: mjl\n', 'Postmaster:\n  Mailbox: Inbox\n');
  assertIssue(() => stat(text), '/etc/moxts/mox.conf', lineOf(text, 'Postmaster:'), 'Postmaster.Account', /^missing required key/);
  const t2 = STATIC.replace('DataDir: data\n', '');
  assertIssue(() => stat(t2), '/etc/moxts/mox.conf', 1, 'DataDir', /^missing required key/);
  const t3 = DYNAMIC.replace('  other:\n    Domain: example.com\n', '  other:\n');
  assertIssue(() => dyn(t3), '/etc/moxts/domains.conf', lineOf(t3, '  other:'), 'Accounts.other.Domain', /^missing required key/);
});

test('static cross-checks', () => {
  const F = '/etc/moxts/mox.conf';
  // Port conflict between services on overlapping IPs.
  const t1 = STATIC.replace('    Submissions:\n      Enabled: true', '    Submissions:\n      Enabled: true\n      Port: 25');
  assertIssue(() => stat(t1), F, lineOf(t1, 'Port: 25'), 'Listeners.public.Submissions.Port', /port 25 on 0\.0\.0\.0 is also used by Listeners\.public\.SMTP/);
  const t2 = STATIC.replace('Listeners:\n', 'Listeners:\n  other:\n    IPs: [127.0.0.1]\n    SMTP:\n      Enabled: true\n');
  const publicSMTP = lineOf(t2, '  public:') + lineOf(t2.split('\n').slice(lineOf(t2, '  public:')).join('\n'), 'SMTP:');
  assertIssue(() => stat(t2), F, publicSMTP, 'Listeners.public.SMTP.Port', /port 25 on 0\.0\.0\.0 is also used by Listeners\.other\.SMTP/);
  // Implicit TLS without TLS config.
  const t3 = STATIC.replace('    TLS:\n      KeyCerts:\n        - CertFile: cert.pem\n          KeyFile: key.pem\n', '');
  assertIssue(() => stat(t3), F, lineOf(t3, 'Submissions:'), 'Listeners.public.Submissions', /no TLS config/);
  // Bad IP.
  const t4 = STATIC.replace('IPs: [0.0.0.0]', 'IPs: [0.0.0.300]');
  assertIssue(() => stat(t4), F, lineOf(t4, 'IPs:'), 'Listeners.public.IPs[0]', /not a valid IP address/);
  // Transport must have exactly one kind.
  const t5 = STATIC + '  two:\n    SMTP:\n      Host: a.example\n    Direct: {}\n';
  assertIssue(() => stat(t5), F, lineOf(t5, '  two:'), 'Transports.two', /exactly one of .* got SMTP, Direct/);
  // Unquoted "::" is a YAML mapping; the message says so.
  const t4b = STATIC.replace('IPs: [0.0.0.0]', 'IPs:\n      - ::');
  assertIssue(() => stat(t4b), F, lineOf(t4b, '- ::'), 'Listeners.public.IPs[0]', /expected string, got mapping \(write "::" in quotes/);
  // Hostname.
  const t6 = STATIC.replace('Hostname: mail.example.com', 'Hostname: "mail example"');
  assertIssue(() => stat(t6), F, 2, 'Hostname', /not a valid hostname/);
  // HTTP services on one listener may share a port, but not a path.
  const ok = STATIC.replace('Listeners:\n', 'Listeners:\n  internal:\n    IPs: [127.0.0.1]\n    AccountHTTP: {Enabled: true, Port: 8080}\n    AdminHTTP: {Enabled: true, Port: 8080}\n    WebAPIHTTP: {Enabled: true, Port: 8080}\n    MetricsHTTP: {Enabled: true, Port: 8080, }\n');
  stat(ok);
  const t7 = ok.replace('AdminHTTP: {Enabled: true, Port: 8080}', 'AdminHTTP: {Enabled: true, Port: 8080, Path: /}');
  assertIssue(() => stat(t7), F, lineOf(t7, 'AdminHTTP'), 'Listeners.internal.AdminHTTP.Path', /path \/ on port 8080 is also used by AccountHTTP/);
});

test('dynamic cross-checks', () => {
  const F = '/etc/moxts/domains.conf';
  // Account domain must exist.
  const t1 = DYNAMIC.replace('  other:\n    Domain: example.com', '  other:\n    Domain: example.net');
  assertIssue(() => dyn(t1), F, lineOf(t1, 'example.net'), 'Accounts.other.Domain', /unknown domain "example.net"/);
  // Destination in unconfigured domain.
  const t2 = DYNAMIC.replace('other@example.com:', 'other@example.net:');
  assertIssue(() => dyn(t2), F, lineOf(t2, 'other@example.net'), 'Accounts.other.Destinations.other@example.net', /unknown domain "example.net"/);
  const t2b = DYNAMIC.replace('"@example.org": {}', '"@example.net": {}');
  assertIssue(() => dyn(t2b), F, lineOf(t2b, '@example.net'), 'Accounts.mjl.Destinations.@example.net', /catchall for unknown domain/);
  const t2c = DYNAMIC.replace('other@example.com:', '"not an address":');
  assertIssue(() => dyn(t2c), F, lineOf(t2c, 'not an address'), 'Accounts.other.Destinations.not an address', /not a valid email address/);
  // Both catchall separator keys.
  const t3 = DYNAMIC.replace('LocalpartCatchallSeparator: "+"', 'LocalpartCatchallSeparator: "+"\n    LocalpartCatchallSeparators: ["-"]');
  assertIssue(() => dyn(t3), F, lineOf(t3, 'LocalpartCatchallSeparators'), 'Domains.example.com.LocalpartCatchallSeparators', /not both/);
  // DKIM Sign selector must exist.
  const t4 = DYNAMIC.replace('Sign: [sel1]', 'Sign: [sel1, sel2]');
  assertIssue(() => dyn(t4), F, lineOf(t4, 'Sign:'), 'Domains.example.com.DKIM.Sign[1]', /unknown DKIM selector "sel2"/);
  // Route transport must exist in mox.conf.
  const t5 = DYNAMIC.replace('Transport: relay', 'Transport: nope');
  assertIssue(() => dyn(t5), F, lineOf(t5, 'Transport: nope'), 'Routes[0].Transport', /unknown transport "nope"/);
  // Postmaster account must exist: the error names mox.conf and its line.
  const t6 = DYNAMIC.replace('  mjl:\n    Domain: example.com\n    Destinations:\n      mjl@example.com: {}\n      "@example.org": {}\n', '');
  assertIssue(() => dyn(t6), '/etc/moxts/mox.conf', lineOf(STATIC, 'Account: mjl'), 'Postmaster.Account', /unknown account "mjl"/);
  // Alias members must be valid local account addresses.
  const t7 = DYNAMIC.replace('  example.org: {}', '  example.org:\n    Aliases:\n      team:\n        Addresses: [mjl@example.com, bogus, stranger@example.net]');
  assertIssue(() => dyn(t7), F, lineOf(t7, 'Addresses:'), 'Domains.example.org.Aliases.team.Addresses[1]', /not a valid email address: "bogus"/);
  assertIssue(() => dyn(t7), F, lineOf(t7, 'Addresses:'), 'Domains.example.org.Aliases.team.Addresses[2]', /not an address of a local account/);
  // The same address twice (case-insensitive).
  const t8 = DYNAMIC.replace('other@example.com:', 'MJL@Example.com:');
  assertIssue(() => dyn(t8), F, lineOf(t8, 'MJL@'), 'Accounts.other.Destinations.MJL@Example.com', /already configured at Accounts\.mjl\.Destinations\.mjl@example\.com/);
  // A destination localpart must not contain the catchall separator.
  const t9 = DYNAMIC.replace('other@example.com:', 'other+x@example.com:');
  assertIssue(() => dyn(t9), F, lineOf(t9, 'other+x'), 'Accounts.other.Destinations.other+x@example.com', /catchall separator "\+"/);
  // FromIDLoginAddresses must be the account's own.
  const t10 = DYNAMIC.replace('  other:\n    Domain: example.com\n', '  other:\n    Domain: example.com\n    FromIDLoginAddresses: [mjl@example.com]\n');
  assertIssue(() => dyn(t10), F, lineOf(t10, 'FromIDLoginAddresses'), 'Accounts.other.FromIDLoginAddresses[0]', /not an address of this account/);
  // Webhook URL and events.
  const t11 = DYNAMIC.replace('  other:\n    Domain: example.com\n', '  other:\n    Domain: example.com\n    OutgoingWebhook:\n      URL: ftp://x.example\n      Events: [delivered, exploded]\n');
  assertIssue(() => dyn(t11), F, lineOf(t11, 'URL: ftp'), 'Accounts.other.OutgoingWebhook.URL', /http or https URL/);
  assertIssue(() => dyn(t11), F, lineOf(t11, 'Events:'), 'Accounts.other.OutgoingWebhook.Events[1]', /expected one of "delivered".*"complained", got string "exploded"/);
  // DMARC report account must exist.
  const t12 = DYNAMIC.replace('  example.org: {}', '  example.org:\n    DMARC: {Localpart: dmarc, Account: ghost, Mailbox: DMARC}');
  assertIssue(() => dyn(t12), F, lineOf(t12, 'DMARC:'), 'Domains.example.org.DMARC.Account', /unknown account "ghost"/);
  // Alias address may not collide with an account address.
  const t13 = DYNAMIC.replace('  example.org: {}', '  example.org: {}\n  example.net:\n    Aliases:\n      x: {Addresses: [mjl@example.com]}').replace('Destinations:\n      other@example.com:', 'Destinations:\n      x@example.net: {}\n      other@example.com:');
  assertIssue(() => dyn(t13), F, lineOf(t13, '      x: {'), 'Domains.example.net.Aliases.x', /already configured at Accounts\.other/);
  // A report address may not collide with an account address.
  const t13b = DYNAMIC.replace('  example.org: {}', '  example.org:\n    TLSRPT: {Localpart: Other, Domain: example.com, Account: mjl, Mailbox: TLSRPT}');
  assertIssue(() => dyn(t13b), F, lineOf(t13b, 'TLSRPT:'), 'Domains.example.org.TLSRPT.Localpart', /report address other@example\.com is already configured at Accounts\.other/);
  // Rulesets need a matcher and a valid regexp.
  const t14 = DYNAMIC.replace('        Mailbox: Other', '        Mailbox: Other\n        Rulesets:\n          - Mailbox: Lists\n          - MsgFromRegexp: "([a-z"\n            Mailbox: Lists');
  assertIssue(() => dyn(t14), F, lineOf(t14, '- Mailbox: Lists'), 'Accounts.other.Destinations.other@example.com.Rulesets[0]', /at least one of/);
  assertIssue(() => dyn(t14), F, lineOf(t14, 'MsgFromRegexp'), 'Accounts.other.Destinations.other@example.com.Rulesets[1].MsgFromRegexp', /invalid regular expression/);
  // Account names become directory names.
  const t15 = DYNAMIC.replace('  other:\n', '  ../evil:\n');
  assertIssue(() => dyn(t15), F, lineOf(t15, '../evil'), 'Accounts.../evil', /invalid account name/);
});

test('errors list every problem, sorted by line', async () => {
  const text = STATIC.replace('Hostname: mail.example.com', 'Hostname: 5\nBogus: 1');
  const e = errorOf(() => stat(text));
  assert.equal(e.issues.length, 2);
  assert.deepEqual(
    e.issues.map((i) => [i.line, i.path]),
    [
      [2, 'Hostname'],
      [3, 'Bogus'],
    ],
  );
  // A config read from a file is reported with that file name.
  const dir = mkdtempSync(join(tmpdir(), 'moxts-config-'));
  try {
    writeFileSync(join(dir, 'mox.conf'), text);
    await assert.rejects(loadStatic(join(dir, 'mox.conf')), (err: Error) => {
      assert.ok(err.message.startsWith(`${join(dir, 'mox.conf')}:2: Hostname: expected string, got number 5\n`), err.message);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
