#!/usr/bin/env node
// A small application using moxts (or mox) the way a web app would: it sends a message through
// the webapi and receives the webhooks about it, checking each webhook's signature (Standard
// Webhooks: HMAC-SHA256 over "id.timestamp.body" with the account's whsec_ secret). Node 20+,
// no dependencies. See "Testing your application against moxts" in ../README.md.
//
//   WEBHOOK_SECRET=$(npx moxts --config ~/.config/moxts-localserve/mox.conf queue webhook secret mox) \
//     node examples/app.mjs someone@localhost
import { createServer } from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';

const env = process.env;
const webapi = env.MOXTS_WEBAPI ?? 'http://localhost:1080/webapi/v0/';
const auth = 'Basic ' + Buffer.from(`${env.MOXTS_USER ?? 'mox@localhost'}:${env.MOXTS_PASSWORD ?? 'moxmoxmox'}`).toString('base64');
const secret = env.WEBHOOK_SECRET ?? '';
const to = process.argv[2] ?? 'someone@localhost';

// True if one of the webhook-signature values ("v1,<base64>", space-separated) matches.
function verify(headers, body) {
  const id = headers['webhook-id'], ts = headers['webhook-timestamp'], sigs = headers['webhook-signature'] ?? '';
  if (!id || !/^\d+$/.test(ts ?? '') || Math.abs(Date.now() / 1000 - Number(ts)) > 300) return false; // stale: replay
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const want = createHmac('sha256', key).update(`${id}.${ts}.`).update(body).digest();
  return sigs.split(' ').some((s) => {
    const got = Buffer.from(s.slice(3), 'base64');
    return s.startsWith('v1,') && got.length === want.length && timingSafeEqual(got, want);
  });
}

// Webhooks: configure http://127.0.0.1:PORT/outgoing and /incoming for the account.
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    if (!verify(req.headers, body)) {
      console.log(`webhook ${req.url}: bad signature, refused`);
      return res.writeHead(401).end();
    }
    const p = JSON.parse(body.toString('utf8'));
    if (req.url === '/outgoing') console.log(`webhook outgoing: ${p.Event} queue message ${p.QueueMsgID} ${p.SMTPCode ? `(${p.SMTPCode} ${p.Error})` : ''}`.trim());
    else console.log(`webhook incoming: message ${p.Meta?.MsgID} from ${p.From?.[0]?.Address} subject ${JSON.stringify(p.Subject)}`);
    res.writeHead(200).end('ok'); // anything but 200 makes the server retry later
  });
});
server.listen(Number(env.PORT ?? 8025), '127.0.0.1', async () => {
  console.log(`receiving webhooks on http://127.0.0.1:${server.address().port}/outgoing and /incoming`);
  // Send: a form field "request" with the JSON request (mox webapi v0).
  const request = JSON.stringify({ To: [{ Address: to }], Subject: 'hello from examples/app.mjs', Text: 'hi!\n' });
  const res = await fetch(`${webapi}Send`, { method: 'POST', headers: { authorization: auth }, body: new URLSearchParams({ request }) });
  const result = await res.json();
  if (!res.ok) throw new Error(`Send: ${res.status} ${result.Code}: ${result.Message}`);
  console.log(`sent: message ID ${result.MessageID}, queue message ${result.Submissions[0].QueueMsgID}`);
});
