import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { generateDkimKey, generateDkimKeyAsync, dkimPublicKeyData, dkimTxtRecord } from './dkim-keys.js';

test('ed25519 key: record carries the raw 32-byte key that verifies signatures', () => {
  const pem = generateDkimKey('ed25519');
  assert.match(pem, /^-----BEGIN PRIVATE KEY-----/);
  const { algorithm, p } = dkimPublicKeyData(pem);
  assert.equal(algorithm, 'ed25519');
  const raw = Buffer.from(p, 'base64');
  assert.equal(raw.length, 32);
  // Rebuild an SPKI from the raw key and verify a signature made with the private key.
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]);
  const pub = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  const sig = sign(null, Buffer.from('hello'), createPrivateKey(pem));
  assert.ok(verify(null, Buffer.from('hello'), pub, sig));
  assert.match(dkimTxtRecord(pem), /^v=DKIM1;k=ed25519;h=sha256;p=[A-Za-z0-9+/=]{44}$/);
});

test('rsa key: 2048 bits, record is the DER SPKI', () => {
  const pem = generateDkimKey('rsa');
  const { algorithm, p } = dkimPublicKeyData(pem);
  assert.equal(algorithm, 'rsa');
  const pub = createPublicKey({ key: Buffer.from(p, 'base64'), format: 'der', type: 'spki' });
  assert.equal(pub.asymmetricKeyDetails?.modulusLength, 2048);
  assert.match(dkimTxtRecord(pem), /^v=DKIM1;k=rsa;h=sha256;p=/);
});

test('keys generated off the event loop are the same kinds (PKCS#8 PEM, ed25519 and RSA-2048)', async () => {
  const ed = await generateDkimKeyAsync('ed25519');
  assert.match(ed, /^-----BEGIN PRIVATE KEY-----/);
  assert.equal(dkimPublicKeyData(ed).algorithm, 'ed25519');
  const rsa = await generateDkimKeyAsync('rsa');
  assert.equal(createPrivateKey(rsa).asymmetricKeyDetails?.modulusLength, 2048);
  assert.equal(dkimPublicKeyData(rsa).algorithm, 'rsa');
});
