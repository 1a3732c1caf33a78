/**
 * The config edits the CLI shares with the admin pages (cmd/config-ops.ts), without a running
 * server: config address add|rm, config account limits, config dkim add|rm, and removing a domain
 * added with `config domain add` (its account first, which takes the report settings with it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMoxts } from './helpers/cli.js';

test('config address, account limits, dkim selectors; a domain added with its account can be removed again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moxts-cliconf-'));
  const conf = () => readFileSync(join(dir, 'config', 'domains.conf'), 'utf8');
  const ok = async (args: string[]) => {
    const r = await runMoxts(args, { cwd: dir });
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const fails = async (args: string[], msg: RegExp) => {
    const r = await runMoxts(args, { cwd: dir });
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stderr, msg);
  };
  await ok(['quickstart', 'admin@example.test', '--ip', '192.0.2.1']);
  const before = conf();
  await ok(['config', 'domain', 'add', 'other.test', 'bob', 'bob']);

  // Addresses.
  await ok(['config', 'address', 'add', 'robert@other.test', 'bob']);
  assert.match(conf(), /robert@other\.test/);
  await ok(['config', 'address', 'rm', 'robert@other.test']);
  assert.doesNotMatch(conf(), /robert@/);

  // Limits: set, then back to the default.
  await ok(['config', 'account', 'limits', 'bob', '--max-outgoing-messages-per-day', '25', '--quota-message-size', '1000']);
  assert.match(conf(), /MaxOutgoingMessagesPerDay: 25/);
  assert.match(conf(), /QuotaMessageSize: 1000/);
  await fails(['config', 'account', 'limits', 'bob', '--quota-message-size', '-1'], /not a non-negative whole number/);
  await ok(['config', 'account', 'limits', 'bob', '--max-outgoing-messages-per-day', 'default', '--quota-message-size', 'default']);
  assert.doesNotMatch(conf(), /MaxOutgoingMessagesPerDay|QuotaMessageSize/);

  // DKIM selectors: a new one (not signing yet) is in the printed records; removing keeps its key file.
  const out = await ok(['config', 'dkim', 'add', 'other.test', 'next', '--no-sign']);
  assert.match(out, /next\._domainkey\.other\.test\. 300 IN TXT "v=DKIM1;k=ed25519;/);
  assert.match(conf(), /next:/);
  await fails(['config', 'dkim', 'add', 'other.test', 'bad_name'], /not a valid selector name/);
  await ok(['config', 'dkim', 'rm', 'other.test', 'next']);
  assert.doesNotMatch(conf(), /next:/);
  assert.ok(existsSync(join(dir, 'config', 'dkim', 'other.test.next.ed25519.pem')));

  // The account goes (with the domain's report settings), then the domain: back to the start.
  // (Refusals of these edits are shared with the admin pages and tested there.)
  await ok(['config', 'account', 'rm', 'bob']);
  await ok(['config', 'domain', 'rm', 'other.test']);
  assert.equal(conf(), before);
  rmSync(dir, { recursive: true });
});
