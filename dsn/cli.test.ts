// `moxts dsn parse FILE` (cmd/dsn-cmd.ts), driven through commander with stdout captured.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerDsn } from '../cmd/dsn-cmd.js';
import { composeDsn } from './compose.js';

async function run(args: string[]): Promise<string> {
  const program = new Command('moxts').exitOverride();
  registerDsn(program);
  const chunks: string[] = [];
  const orig = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((s: string | Uint8Array) => {
    chunks.push(typeof s === 'string' ? s : Buffer.from(s).toString());
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(['node', 'moxts', ...args]);
  } finally {
    process.stdout.write = orig;
  }
  return chunks.join('');
}

test('dsn parse prints the analysis as JSON', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dsn-cli-'));
  try {
    const f = join(dir, 'dsn.eml');
    writeFileSync(
      f,
      composeDsn({
        hostname: 'mx.example.net',
        to: 'a@example.org',
        recipients: [{ finalRecipient: 'b@example.com', action: 'failed', status: '5.2.2', diagnosticCode: '552 5.2.2 mailbox full' }],
        original: Buffer.from('Message-ID: <m1@example.org>\r\nSubject: hi\r\n\r\nbody\r\n'),
      }),
    );
    const out = JSON.parse(await run(['dsn', 'parse', f])) as { kind: string; class: string; originalMessageID: string; recipients: { address: string; smtpCode: number }[]; dsn: { returnedHeaders: string[][] } };
    assert.equal(out.kind, 'dsn');
    assert.equal(out.class, 'mailboxfull');
    assert.equal(out.originalMessageID, '<m1@example.org>');
    assert.equal(out.recipients[0]!.address, 'b@example.com');
    assert.equal(out.recipients[0]!.smtpCode, 552);
    assert.deepEqual(out.dsn.returnedHeaders[1], ['Subject', 'hi']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
