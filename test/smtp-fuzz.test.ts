/**
 * Random input against a live incoming SMTP server: arbitrary bytes and random sequences of
 * (mostly valid-looking) commands never crash it or corrupt its state. After each run a fresh
 * connection must still deliver a message.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { connect } from 'node:net';
import { once } from 'node:events';
import { RawSmtp, sendRaw } from './helpers/smtp-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let ts: TestServer;
before(async () => {
  const big = [1e9, 1e9, 1e9] as const;
  ts = await startTestServer({
    smtpLimits: { connectionsPerMinute: big, concurrentConnections: big, messagesPerMinute: big, messagesPerDay: big },
    listener: { SMTPMaxMessageSize: 10_000 },
  });
});
after(async () => {
  await ts.stop();
});

/** Send bytes, then half-close and collect whatever the server answers until it closes. */
async function blast(chunks: Uint8Array[]): Promise<string> {
  const s = connect(ts.smtpPort, '127.0.0.1');
  await once(s, 'connect');
  let got = '';
  s.on('data', (d) => (got += d.toString('latin1')));
  s.on('error', () => {});
  for (const c of chunks) s.write(c);
  s.end();
  await once(s, 'close');
  return got;
}

async function stillWorks(): Promise<void> {
  const c = await RawSmtp.connect(ts.smtpPort);
  assert.equal((await c.reply()).code, 220);
  await c.cmd('EHLO check.example');
  const r = await sendRaw(c, 's@remote.example', ['mjl@example.com'], 'Subject: still alive\r\n\r\nyes\r\n');
  assert.equal(r.code, 250, r.text);
  c.close();
}

const verbs = ['HELO', 'EHLO', 'MAIL FROM:', 'RCPT TO:', 'DATA', 'RSET', 'NOOP', 'QUIT', 'VRFY', 'STARTTLS', 'AUTH PLAIN', 'BDAT 10', 'HELP', 'XYZ', ''];
const arg = fc.oneof(
  fc.constantFrom('<mjl@example.com>', '<>', '<a@b>', 'x', '<nobody@example.com> SIZE=99999999', '<mjl@example.com> NOTIFY=NEVER,SUCCESS', '<jöran@bücher.example> SMTPUTF8', ' '.repeat(3000)),
  fc.string({ maxLength: 40 }),
);
const line = fc.tuple(fc.constantFrom(...verbs), arg, fc.constantFrom('\r\n', '\n', '\r', '')).map(([v, a, end]) => `${v}${a}${end}`);

test('arbitrary bytes: only well-formed replies, server keeps working', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 5 }), async (chunks) => {
      const out = await blast(chunks);
      // Every line the server sent is a reply line "ddd[ -]text".
      for (const l of out.split('\r\n').filter(Boolean)) assert.match(l, /^\d{3}[ -]/);
      assert.match(out, /^220 /);
    }),
    { numRuns: 150 },
  );
  await stillWorks();
});

test('random command sequences (with data sections): replies only, no crash', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(line, { minLength: 1, maxLength: 25 }), fc.string({ maxLength: 300 }), async (lines, data) => {
      const out = await blast([Buffer.from(lines.join('') + data + '\r\n.\r\n' + lines.slice(0, 5).join(''), 'utf8')]);
      for (const l of out.split('\r\n').filter(Boolean)) assert.match(l, /^\d{3}[ -]/, JSON.stringify(l));
    }),
    { numRuns: 200 },
  );
  await stillWorks();
});
