import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Router } from './router.js';
import { matchService, type WebService } from './listener.js';
import { parseBasicAuth } from './auth.js';

test('router: literal and parameter segments', () => {
  assert.deepEqual(Router.match(['v0', ':method'], ['v0', 'Send']), { method: 'Send' });
  assert.equal(Router.match(['v0', ':method'], ['v0', '']), undefined);
  assert.equal(Router.match(['v0', ':method'], ['v0', 'a', 'b']), undefined);
  assert.deepEqual(Router.match(['v0', ''], ['v0', '']), {});
  assert.equal(Router.match(['v0', ':m'], ['v0', '%E0%A4%A']), undefined);
});

test('listener: longest path prefix wins; the prefix without slash redirects', () => {
  const svc = (name: string, path: string): WebService => ({ name, path, handler: () => {} });
  const all = [svc('account', '/'), svc('admin', '/admin/'), svc('webapi', '/webapi/')];
  assert.equal(matchService(all, '/webapi/v0/Send')?.service.name, 'webapi');
  assert.equal(matchService(all, '/admin/x')?.service.name, 'admin');
  assert.equal(matchService(all, '/other')?.service.name, 'account');
  assert.deepEqual(matchService(all, '/webapi'), { service: all[2], exact: true });
  assert.equal(matchService([svc('webapi', '/webapi/')], '/nope'), undefined);
});

test('basic auth header parsing (rfc7617)', () => {
  const b = (s: string) => 'Basic ' + Buffer.from(s).toString('base64');
  assert.deepEqual(parseBasicAuth(b('mjl@example.com:pa:ss')), { username: 'mjl@example.com', password: 'pa:ss' });
  assert.deepEqual(parseBasicAuth('basic  ' + Buffer.from('a:').toString('base64')), { username: 'a', password: '' });
  assert.equal(parseBasicAuth(b('nocolon')), undefined);
  assert.equal(parseBasicAuth('Bearer abc'), undefined);
  assert.equal(parseBasicAuth(undefined), undefined);
  assert.equal(parseBasicAuth('Basic !!!'), undefined);
});
