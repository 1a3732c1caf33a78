import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';
import fc from 'fast-check';
import { dotStuff } from '../data.js';
import { DotStuffer, Wire, WireError } from './wire.js';
import { xtext, orcptParam, parseEhlo } from './deliver.js';

test('DotStuffer gives the same bytes as dotStuff for any chunking', () => {
  const bytes = fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a.map((b) => [0x0d, 0x0a, 0x2e, 0x41][b % 4]!)));
  fc.assert(
    fc.property(bytes, fc.array(fc.nat(50), { maxLength: 10 }), (msg, cuts) => {
      const st = new DotStuffer();
      const out: Buffer[] = [];
      let pos = 0;
      for (const c of cuts) {
        out.push(...st.push(msg.subarray(pos, pos + c)));
        pos = Math.min(msg.length, pos + c);
      }
      out.push(...st.push(msg.subarray(pos)), st.end());
      assert.ok(Buffer.concat(out).equals(dotStuff(msg)), JSON.stringify(msg.toString('latin1')));
    }),
    { numRuns: 2000 },
  );
});

async function pair(): Promise<{ client: Socket; server: Socket; close: () => void }> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as { port: number }).port;
  const client = connect(port, '127.0.0.1');
  const [server] = (await once(srv, 'connection')) as [Socket];
  await once(client, 'connect');
  return { client, server, close: () => { client.destroy(); server.destroy(); srv.close(); } };
}

test('Wire reads multi-line replies split anywhere, with enhanced codes; timeouts and closes are WireErrors', async (t) => {
  const p = await pair();
  t.after(p.close);
  const w = new Wire(p.client);
  p.server.write('250-mx.example hello\r\n250-PIPE');
  p.server.write('LINING\r\n250 SIZE 1000\r\n550-5.1.1 no such\r\n550 5.1.1 user\r\n');
  const r = await w.reply(1000, 'EHLO');
  assert.equal(r.code, 250);
  assert.deepEqual(r.lines, ['mx.example hello', 'PIPELINING', 'SIZE 1000']);
  assert.deepEqual([...parseEhlo(r)], [['PIPELINING', ''], ['SIZE', '1000']]);
  const r2 = await w.reply(1000, 'RCPT');
  assert.equal(r2.code, 550);
  assert.equal(r2.enhanced, '5.1.1');
  assert.equal(r2.message, 'no such\nuser');
  assert.equal(r2.raw, '550-5.1.1 no such\n550 5.1.1 user');
  await assert.rejects(w.reply(50, 'X'), (e: unknown) => e instanceof WireError && e.kind === 'timeout');
  p.server.write('garbage\r\n');
  await assert.rejects(w.reply(1000, 'Y'), (e: unknown) => e instanceof WireError && e.kind === 'protocol');
  w.destroy();
  p.close();

  const q = await pair();
  t.after(q.close);
  const w2 = new Wire(q.client);
  q.server.end('421 4.3.2 bye\r\n');
  assert.equal((await w2.reply(1000, 'A')).code, 421);
  await assert.rejects(w2.reply(1000, 'B'), (e: unknown) => e instanceof WireError && e.kind === 'closed');
  w2.destroy();
  q.close();
});

test('Wire: 1000 pipelined replies in one chunk are fine; a reply of too many lines is not', async (t) => {
  const p = await pair();
  t.after(p.close);
  const w = new Wire(p.client);
  p.server.write('250 2.1.5 ok\r\n'.repeat(1000));
  for (let i = 0; i < 1000; i++) assert.equal((await w.reply(1000, 'RCPT')).code, 250);
  p.server.write('250-x\r\n'.repeat(300));
  await assert.rejects(w.reply(1000, 'EHLO'), (e: unknown) => e instanceof WireError && e.kind === 'protocol');
  w.destroy();
  p.close();
});

test('xtext and ORCPT encoding (rfc3461:4, rfc6533:3)', () => {
  assert.equal(xtext('a+b=c d'), 'a+2Bb+3Dc+20d');
  assert.equal(xtext('é'), '+C3+A9');
  assert.equal(orcptParam('user+tag@example.org'), 'rfc822;user+2Btag@example.org');
  assert.equal(orcptParam('rfc822;x=y@example.org'), 'rfc822;x+3Dy@example.org');
  assert.equal(orcptParam('jöran@example.org'), 'utf-8;j\\x{F6}ran@example.org');
});
