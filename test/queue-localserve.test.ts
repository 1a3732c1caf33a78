/**
 * localserve's queue (mox §5): every delivery goes to our own SMTP port, where special recipient
 * localparts simulate failures; other addresses, even unknown ones, end up in mox@localhost.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initLocalserve } from '../cmd/localserve-cmd.js';
import { startServer } from '../cmd/server.js';
import { startTestDns } from '../dns/testserver.js';
import { nullLogger } from '../log/logger.js';
import { localserveError } from '../smtp/server/delivery.js';

test('localserveError: suffixes temperror, permerror, timeout and 3-digit codes 400-599', () => {
  assert.deepEqual(localserveError('xtemperror'), { code: 451, timeout: false });
  assert.deepEqual(localserveError('rcpttopermerror'), { code: 550, timeout: false });
  assert.deepEqual(localserveError('a-timeout'), { code: 451, timeout: true });
  assert.deepEqual(localserveError('test552'), { code: 552, timeout: false });
  assert.equal(localserveError('test600'), undefined, 'not a code (mox quirk §11.7 not copied)');
  assert.equal(localserveError('mox'), undefined);
});

test('localserve queue: delivered to its own SMTP port; test550 fails with a DSN; unknown addresses reach mox@localhost', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moxts-lsq-'));
  await initLocalserve(dir, ['127.0.0.1'], true);
  const dns = await startTestDns({});
  const server = await startServer({ configPath: join(dir, 'mox.conf'), log: nullLogger(), resolver: dns.resolver });
  try {
    const add = (to: string) => {
      const [localpart, domain] = to.split('@') as [string, string];
      return server.queue.add({
        account: 'mox',
        mailFrom: { localpart: 'mox', domain: 'localhost' },
        recipients: [{ localpart, domain }],
        message: Buffer.from(`From: <mox@localhost>\r\nTo: <${to}>\r\nSubject: to ${to}\r\nMessage-ID: <${localpart}@localhost>\r\n\r\nhi\r\n`),
      });
    };
    const [bad] = await add('test550@localhost');
    const [unknown] = await add('someone@elsewhere.example');
    server.scheduler!.kick();
    await server.scheduler!.idle();
    const b = server.queue.getRetired(bad!.id)!;
    assert.equal(b.outcome, 'failed');
    assert.equal(b.results.at(-1)!.code, 550);
    assert.ok(server.queue.lookupSuppression('mox', 'test550@localhost'), '550 suppresses at once (mox §5)');
    assert.equal(server.queue.getRetired(unknown!.id)!.outcome, 'delivered');
    const acc = server.store.account('mox');
    const subjects = acc.listMessages(acc.mailbox('Inbox')!.id).map((m) => m.subject ?? '');
    assert.ok(subjects.includes('to someone@elsewhere.example'), subjects.join(' | '));
    const bodies = await Promise.all(acc.listMessages(acc.mailbox('Inbox')!.id).map(async (m) => (await acc.readMessage(m.id)).toString()));
    assert.ok(bodies.some((x) => /Final-Recipient: rfc822; ?test550@localhost/i.test(x) && /Action: failed/.test(x)), 'failure DSN in the Inbox');
  } finally {
    await server.stop();
    await dns.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
