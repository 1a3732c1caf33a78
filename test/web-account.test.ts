/**
 * The account pages end to end (web/account/): a real server with the pages on 127.0.0.1:0, the
 * real login form, CSRF tokens from the pages, domains.conf on disk, a real HTTP receiver for
 * webhook tests, IMAP (imapflow) and the webapi to check password changes. A second account
 * ("other") checks that one account's pages never show or change another's data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { startWebServer, ACCOUNT_PASSWORD, type WebTestServer, type WebSession } from './helpers/web.js';
import { WebhookReceiver } from './helpers/webhook-receiver.js';
import { WebapiClient, WebapiError } from '../webapi/client.js';
import { verifyWebhook } from '../webhook/sign.js';
import { loadConfig } from '../config/load.js';
import { removeAccount } from '../config/write.js';
import { ctlCall } from '../cmd/ctl.js';

const OTHER_PASSWORD = 'other-pass-1';
const OTHER_HOOK = 'https://other.example/private-hook';
const OTHER_AUTH = 'Bearer other-token-xyz';

function start(o: { imap?: boolean } = {}): Promise<WebTestServer> {
  return startWebServer({
    imap: o.imap,
    accounts: {
      mjl: { Domain: 'example.com', Destinations: { 'mjl@example.com': {}, 'mjl.alias@example.com': {} } },
      other: {
        Domain: 'example.com',
        Destinations: { 'other@example.com': {} },
        OutgoingWebhook: { URL: OTHER_HOOK, Authorization: OTHER_AUTH },
        IncomingWebhook: { URL: `${OTHER_HOOK}/in` },
      },
    },
    passwords: { other: OTHER_PASSWORD },
  });
}

async function login(ts: WebTestServer, user = 'mjl@example.com', password = ACCOUNT_PASSWORD): Promise<WebSession> {
  const s = ts.account();
  const r = await s.login(password, user);
  assert.equal(r.status, 303, `login of ${user}`);
  return s;
}

const domainsConf = (ts: WebTestServer) => readFile(join(ts.dir, 'domains.conf'), 'utf8');

async function imapLogin(ts: WebTestServer, user: string, pass: string): Promise<boolean> {
  const c = new ImapFlow({ host: '127.0.0.1', port: ts.imapPort, secure: false, auth: { user, pass }, logger: false, tls: { ca: [ts.certPem], servername: 'localhost' } });
  try {
    await c.connect();
    await c.logout();
    return true;
  } catch {
    c.close();
    return false;
  }
}

async function webapiWorks(ts: WebTestServer, user: string, pass: string): Promise<boolean> {
  const c = new WebapiClient({ baseURL: `${ts.origin}/webapi/v0/`, username: user, password: pass });
  try {
    await c.suppressionList();
    return true;
  } catch (e) {
    if (e instanceof WebapiError && e.status === 401) return false;
    throw e;
  }
}

test('account password: current one checked through the login guard, min length, new one everywhere, other sessions ended', async (t) => {
  const ts = await start({ imap: true });
  t.after(() => ts.stop());
  const me = await login(ts);
  const elsewhere = await login(ts, 'mjl.alias@example.com');
  const otherAccount = await login(ts, 'other@example.com', OTHER_PASSWORD);

  let r = await me.get('password');
  assert.equal(r.status, 200);
  assert.match(r.text, /autocomplete="current-password"/);

  const NEW = 'a new password 2';
  r = await me.post('password', { current: 'wrong-password', new: NEW, repeat: NEW });
  assert.equal(r.status, 400);
  assert.match(r.text, /The current password is wrong/);
  r = await me.post('password', { current: ACCOUNT_PASSWORD, new: 'short', repeat: 'short' });
  assert.equal(r.status, 400);
  assert.match(r.text, /at least 8 characters/);
  r = await me.post('password', { current: ACCOUNT_PASSWORD, new: NEW, repeat: NEW + 'x' });
  assert.equal(r.status, 400);
  assert.match(r.text, /differ/);
  // None of the refused attempts changed anything.
  assert.equal(await webapiWorks(ts, 'mjl@example.com', ACCOUNT_PASSWORD), true);

  // The wrong current password went through the login guard: recorded as a failed web-account attempt.
  const attempts = ts.server.authDb.recentAttempts({ account: 'mjl' }).attempts;
  assert.ok(attempts.some((a) => a.protocol === 'web-account' && a.mechanism === 'password-change' && a.result === 'badcreds'));

  r = await me.submit('password', { current: ACCOUNT_PASSWORD, new: NEW, repeat: NEW });
  assert.equal(r.status, 200);
  assert.match(r.text, /Password changed\. 1 other session logged out\./);

  // This session stays, the account's other session ended, another account's session is untouched.
  assert.equal((await me.get('')).status, 200);
  assert.equal((await elsewhere.get('')).status, 303);
  assert.equal((await otherAccount.get('')).status, 200);

  // Page login, IMAP and the webapi: the new password works, the old one does not.
  assert.equal((await ts.account().login(NEW, 'mjl@example.com')).status, 303);
  assert.equal((await ts.account().login(ACCOUNT_PASSWORD, 'mjl@example.com')).status, 401);
  assert.equal(await imapLogin(ts, 'mjl@example.com', NEW), true);
  assert.equal(await imapLogin(ts, 'mjl@example.com', ACCOUNT_PASSWORD), false);
  assert.equal(await webapiWorks(ts, 'mjl@example.com', NEW), true);
  assert.equal(await webapiWorks(ts, 'mjl@example.com', ACCOUNT_PASSWORD), false);
  // The other account's password is unchanged.
  assert.equal(await imapLogin(ts, 'other@example.com', OTHER_PASSWORD), true);
});

test('account webhooks: edit config (bad URL refused), send test (signed; status, body escaped; 500 shown), rotate the signing secret', async (t) => {
  const ts = await start();
  const rx = await WebhookReceiver.start();
  t.after(async () => {
    await rx.close();
    await ts.stop();
  });
  const me = await login(ts);

  let r = await me.get('webhooks');
  assert.equal(r.status, 200);
  assert.match(r.text, /Not configured/);
  assert.match(r.text, /value="complained"/, 'every event has a checkbox, complained included');
  assert.match(r.text, /No signing secret yet/);

  // A bad URL is refused with a message; what was typed is shown again; domains.conf is unchanged.
  const before = await domainsConf(ts);
  r = await me.post('webhooks/outgoing', { url: 'ftp://files.example/x', authorization: 'Bearer a', events: ['delivered'] });
  assert.equal(r.status, 400);
  assert.match(r.text, /URL must be an http or https URL/);
  assert.match(r.text, /value="ftp:\/\/files\.example\/x"/);
  r = await me.post('webhooks/outgoing', { url: 'not a url' });
  assert.equal(r.status, 400);
  assert.match(r.text, /http or https URL/);
  r = await me.post('webhooks/outgoing', { url: `${rx.url}/out`, events: ['delivered', 'exploded'] });
  assert.equal(r.status, 400);
  assert.match(r.text, /unknown event &quot;exploded&quot;/);
  assert.equal(await domainsConf(ts), before);

  r = await me.submit('webhooks/outgoing', { url: `${rx.url}/out`, authorization: 'Bearer t0k', events: ['delivered', 'complained'] });
  assert.equal(r.status, 200);
  assert.match(r.text, /Outgoing webhook saved/);
  r = await me.submit('webhooks/incoming', { url: `${rx.url}/in` });
  assert.match(r.text, /Incoming webhook saved/);
  const conf = (await loadConfig(join(ts.dir, 'mox.conf'))).dynamic.Accounts;
  assert.deepEqual(conf.mjl!.OutgoingWebhook, { URL: `${rx.url}/out`, Authorization: 'Bearer t0k', Events: ['delivered', 'complained'] });
  assert.deepEqual(conf.mjl!.IncomingWebhook, { URL: `${rx.url}/in` });
  assert.equal(conf.other!.OutgoingWebhook?.URL, OTHER_HOOK, 'the other account is untouched');
  // The running server reloaded: its config has the new values.
  assert.equal(ts.server.dynamic().Accounts.mjl!.OutgoingWebhook?.URL, `${rx.url}/out`);
  assert.match(r.text, /<input type="checkbox" name="events" value="complained" checked>/);
  assert.doesNotMatch(r.text, /<input type="checkbox" name="events" value="failed" checked>/);

  // Send test: the receiver gets a signed request; the page shows status, duration and the body (escaped).
  rx.respond = () => ({ status: 200, body: '<b>got it</b> & thanks' });
  r = await me.submit('webhooks/test', { kind: 'outgoing' });
  assert.equal(r.status, 200);
  assert.equal(rx.requests.length, 1);
  const req1 = rx.requests[0]!;
  assert.equal(req1.path, '/out');
  assert.equal(req1.headers.authorization, 'Bearer t0k');
  const secret1 = (await ts.server.webhooks.store.secrets('mjl')).current;
  verifyWebhook(secret1, req1.headers, req1.body);
  assert.equal((JSON.parse(req1.body) as { Event: string }).Event, 'delivered');
  assert.match(r.text, /Success: HTTP status 200 after \d+ ms/);
  assert.match(r.text, /<span class="test-status">200<\/span>/);
  assert.match(r.text, /\d+\.\d ms/);
  assert.match(r.text, /&lt;b&gt;got it&lt;\/b&gt; &amp; thanks/);
  assert.doesNotMatch(r.text, /<b>got it<\/b>/);
  // Shown once.
  r = await me.get('webhooks');
  assert.doesNotMatch(r.text, /got it/);

  // A receiver answering 500 is shown as such, with its body and the error.
  rx.respond = () => ({ status: 500, body: 'boom: database down' });
  r = await me.submit('webhooks/test', { kind: 'incoming' });
  assert.equal(rx.requests.length, 2);
  assert.equal(rx.requests[1]!.path, '/in');
  assert.ok('Meta' in (JSON.parse(rx.requests[1]!.body) as object), 'an incoming example payload');
  assert.match(r.text, /Failed: HTTP status 500/);
  assert.match(r.text, /<span class="test-status">500<\/span>/);
  assert.match(r.text, /boom: database down/);
  assert.match(r.text, /expected 200/);

  // A long response is cut.
  rx.respond = () => ({ status: 200, body: 'x'.repeat(5000) });
  r = await me.submit('webhooks/test', { kind: 'outgoing' });
  assert.match(r.text, /first 512 characters/);
  assert.doesNotMatch(r.text, /x{600}/);

  // A receiver that is not there: no status, the error.
  const gone = await WebhookReceiver.start();
  const goneUrl = gone.url;
  await gone.close();
  await me.submit('webhooks/incoming', { url: `${goneUrl}/in` });
  r = await me.submit('webhooks/test', { kind: 'incoming' });
  assert.match(r.text, /Failed: no response/);
  assert.match(r.text, /ECONNREFUSED|connect/);
  await me.submit('webhooks/incoming', { url: `${rx.url}/in` });

  // The test created the secret; the page shows only its fingerprint and creation time.
  r = await me.get('webhooks');
  assert.doesNotMatch(r.text, new RegExp(secret1.replace(/[+/]/g, '.')));
  assert.match(r.text, /class="fingerprint">[0-9a-f]{16}</);
  const fp1 = /class="fingerprint">([0-9a-f]{16})</.exec(r.text)![1];

  // Rotate: the new secret is shown once, then only its fingerprint.
  r = await me.submit('webhooks/secret', {});
  assert.match(r.text, /Signing secret rotated/);
  assert.match(r.text, /Copy it now/);
  const shown = /<pre class="secret">(whsec_[^<]+)<\/pre>/.exec(r.text)?.[1];
  const secret2 = (await ts.server.webhooks.store.secrets('mjl')).current;
  assert.equal(shown, secret2);
  assert.notEqual(secret2, secret1);
  assert.match(r.text, /Previous secret/);
  r = await me.get('webhooks');
  assert.doesNotMatch(r.text, /Copy it now/);
  assert.ok(!r.text.includes(secret2), 'the secret is not shown again');
  const fp2 = /class="fingerprint">([0-9a-f]{16})</.exec(r.text)![1];
  assert.notEqual(fp2, fp1);

  // Later webhooks are signed with the new secret (and, during the overlap, also the old one).
  rx.respond = () => ({});
  await me.submit('webhooks/test', { kind: 'outgoing' });
  const req3 = rx.requests[rx.requests.length - 1]!;
  verifyWebhook(secret2, req3.headers, req3.body);
  verifyWebhook(secret1, req3.headers, req3.body);

  // Remove the incoming webhook.
  r = await me.submit('webhooks/incoming/remove', {});
  assert.match(r.text, /Incoming webhook removed/);
  assert.equal((await loadConfig(join(ts.dir, 'mox.conf'))).dynamic.Accounts.mjl!.IncomingWebhook, undefined);
  r = await me.post('webhooks/test', { kind: 'incoming' });
  assert.equal(r.status, 400);
  assert.match(r.text, /No incoming webhook is configured/);
  assert.match(r.text, /Signing secret/, 'the webhooks page again, with the error');
});

test('account settings: FromIDLoginAddresses and retention saved to domains.conf; bad values refused', async (t) => {
  const ts = await start();
  t.after(() => ts.stop());
  const me = await login(ts);
  let r = await me.get('settings');
  assert.equal(r.status, 200);
  assert.match(r.text, /value="mjl\.alias@example\.com"/);
  assert.doesNotMatch(r.text, /other@example\.com/);

  r = await me.post('settings', { fromid: ['mjl@example.com'], keepmessages: '3 days', keepwebhooks: '0s' });
  assert.equal(r.status, 400);
  assert.match(r.text, /Keep messages: invalid duration/);
  r = await me.post('settings', { fromid: ['other@example.com'], keepmessages: '72h', keepwebhooks: '0s' });
  assert.equal(r.status, 400);
  assert.match(r.text, /other@example\.com is not an address of this account/);
  r = await me.post('settings', { keepmessages: '-1h', keepwebhooks: '0s' });
  assert.equal(r.status, 400);
  assert.match(r.text, /cannot be negative/);

  r = await me.submit('settings', { fromid: ['mjl@example.com'], keepmessages: '72h', keepwebhooks: '1h30m' });
  assert.equal(r.status, 200);
  assert.match(r.text, /Settings saved/);
  let acc = (await loadConfig(join(ts.dir, 'mox.conf'))).dynamic.Accounts.mjl!;
  assert.deepEqual(acc.FromIDLoginAddresses, ['mjl@example.com']);
  assert.equal(acc.KeepRetiredMessagePeriod, 72 * 3_600_000);
  assert.equal(acc.KeepRetiredWebhookPeriod, 90 * 60_000);
  assert.match(r.text, /value="mjl@example\.com" checked/);
  assert.match(r.text, /value="72h"/);
  assert.match(r.text, /value="1h30m"/);
  r = await me.get('');
  assert.match(r.text, /Keep finished messages<\/dt><dd>72h/);

  // No address checked: the key is removed.
  await me.submit('settings', { keepmessages: '0s', keepwebhooks: '0s' });
  acc = (await loadConfig(join(ts.dir, 'mox.conf'))).dynamic.Accounts.mjl!;
  assert.equal(acc.FromIDLoginAddresses, undefined);
  assert.equal(acc.KeepRetiredMessagePeriod, 0);
});

test('account suppressions and logins; isolation: another account\'s list, attempts and webhooks are never shown nor changed', async (t) => {
  const ts = await start();
  const rx = await WebhookReceiver.start();
  t.after(async () => {
    await rx.close();
    await ts.stop();
  });
  const q = ts.server.queue;
  q.addSuppression('other', 'victim@remote.example', { manual: true, reason: 'other account reason' });
  const other = await login(ts, 'other@example.com', OTHER_PASSWORD);
  await ts.account().login('wrong-other', 'other@example.com');
  const me = await login(ts);

  // Suppressions: add (base address shown), duplicate refused, remove.
  let r = await me.get('suppressions');
  assert.equal(r.status, 200);
  assert.match(r.text, /No suppressed addresses/);
  assert.doesNotMatch(r.text, /victim|other account reason/);
  r = await me.submit('suppressions/add', { address: 'John.Doe+news@Remote.example', reason: 'asked <not> to be mailed' });
  assert.equal(r.status, 200);
  assert.match(r.text, /added to the suppression list/);
  assert.match(r.text, /johndoe@remote\.example/);
  assert.match(r.text, /asked &lt;not&gt; to be mailed/);
  assert.match(r.text, /by hand/);
  assert.deepEqual(q.listSuppressions('mjl').map((s) => s.baseAddress), ['johndoe@remote.example']);
  r = await me.post('suppressions/add', { address: 'johndoe-2@remote.example' });
  assert.equal(r.status, 400);
  assert.match(r.text, /already on the suppression list/);
  assert.match(r.text, /Add an address/, 'the list page again, with the error');
  r = await me.post('suppressions/add', { address: 'no-at-sign' });
  assert.equal(r.status, 400);
  assert.match(r.text, /Not a valid email address/);

  // The other account's entry cannot be removed from here (nor named: the account is the session's).
  r = await me.post('suppressions/remove', { address: 'victim@remote.example', account: 'other' });
  assert.equal(r.status, 400);
  assert.match(r.text, /not on your suppression list/);
  assert.equal(q.listSuppressions('other').length, 1);
  r = await me.post('suppressions/add', { address: 'x@remote.example', account: 'other' });
  assert.equal(r.status, 303);
  assert.equal(q.lookupSuppression('other', 'x@remote.example'), undefined);
  assert.ok(q.lookupSuppression('mjl', 'x@remote.example'));

  r = await me.submit('suppressions/remove', { address: 'johndoe@remote.example' });
  assert.match(r.text, /removed from the suppression list/);
  assert.equal(q.lookupSuppression('mjl', 'john.doe@remote.example'), undefined);

  // The other account sees its own list only.
  r = await other.get('suppressions');
  assert.match(r.text, /victim@remote\.example/);
  assert.doesNotMatch(r.text, /x@remote\.example/);

  // Login attempts: mine only.
  r = await me.get('logins');
  assert.equal(r.status, 200);
  assert.match(r.text, /mjl@example\.com/);
  assert.match(r.text, /web-account/);
  assert.doesNotMatch(r.text, /other@example\.com/);
  r = await other.get('logins');
  assert.match(r.text, /other@example\.com/);
  assert.match(r.text, /badcreds/);
  assert.doesNotMatch(r.text, /mjl@example\.com/);

  // Keyset pagination: 60 more attempts of mine, older than the ones above.
  const base = Date.now() - 3_600_000;
  for (let i = 0; i < 60; i++) ts.server.authDb.addAttempt({ time: base + i * 1000, protocol: 'imap', mechanism: 'PLAIN', remoteIP: '192.0.2.9', account: 'mjl', loginName: `page-${i}@example.com`, result: 'ok' });
  r = await me.get('logins');
  const rows1 = r.text.match(/<tr><td><time/g)?.length ?? 0;
  assert.equal(rows1, 50);
  const older = /href="\/account\/(logins\?before=\d+\.\d+)" rel="next"/.exec(r.text)?.[1];
  assert.ok(older, 'a link to older attempts');
  r = await me.get(older!);
  const rows2 = r.text.match(/<tr><td><time/g)?.length ?? 0;
  const total = ts.server.authDb.recentAttempts({ account: 'mjl', limit: 1000 }).attempts.length;
  assert.equal(rows1 + rows2, total);
  assert.match(r.text, /page-0@example\.com/);
  assert.doesNotMatch(r.text, /rel="next"/);
  assert.match(r.text, /href="\/account\/logins">Newest/);

  // Webhook config of the other account: not shown; test, rotate and save act on my account only.
  r = await me.get('webhooks');
  assert.doesNotMatch(r.text, /other\.example|other-token/);
  r = await me.get('');
  assert.doesNotMatch(r.text, /other\.example|other-token|other@example\.com/);
  const otherSecret = (await ts.server.webhooks.store.secrets('other')).current;
  r = await me.post('webhooks/test', { kind: 'outgoing', account: 'other' });
  assert.equal(r.status, 400);
  assert.match(r.text, /No outgoing webhook is configured/);
  r = await me.post('webhooks/secret', { account: 'other' });
  assert.equal(r.status, 303);
  assert.equal((await ts.server.webhooks.store.secrets('other')).current, otherSecret);
  r = await me.post('webhooks/outgoing', { url: `${rx.url}/mine`, account: 'other' });
  assert.equal(r.status, 303);
  r = await me.post('webhooks/incoming/remove', { account: 'other' });
  assert.equal(r.status, 303);
  const accs = (await loadConfig(join(ts.dir, 'mox.conf'))).dynamic.Accounts;
  assert.equal(accs.mjl!.OutgoingWebhook?.URL, `${rx.url}/mine`);
  assert.deepEqual(accs.other!.OutgoingWebhook, { URL: OTHER_HOOK, Authorization: OTHER_AUTH });
  assert.equal(accs.other!.IncomingWebhook?.URL, `${OTHER_HOOK}/in`);
  assert.equal(rx.requests.length, 0);
  // Nor the password: a password change of mine leaves the other's session and password alone.
  r = await me.post('password', { current: ACCOUNT_PASSWORD, new: 'changed-pass-9', repeat: 'changed-pass-9', account: 'other' });
  assert.equal(r.status, 303);
  assert.equal((await other.get('')).status, 200);
  assert.equal((await ts.account().login(OTHER_PASSWORD, 'other@example.com')).status, 303);

  // An account removed while logged in: its pages refuse, and say why.
  const stat = (await loadConfig(join(ts.dir, 'mox.conf'))).static;
  await removeAccount({ path: join(ts.dir, 'domains.conf'), static: stat }, 'other');
  await ctlCall(ts.server.ctlPath, 'reload');
  r = await other.get('webhooks');
  assert.equal(r.status, 403);
  assert.match(r.text, /no longer exists/);
  assert.equal((await me.get('webhooks')).status, 200);
});
