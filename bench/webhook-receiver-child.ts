/**
 * Receiver for `npm run bench -- webhooks`, in its own process (its own event loop and core):
 * node:http on 127.0.0.1 port 0 answering every POST with 200 at once. Prints "READY <port>";
 * answers "GET /count" with the number of POSTs received.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

let count = 0;
const server = createServer((req, res) => {
  if (req.method === 'GET') {
    res.end(String(count));
    return;
  }
  req.resume();
  req.on('end', () => {
    count++;
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  });
});
server.keepAliveTimeout = 10_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`READY ${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
