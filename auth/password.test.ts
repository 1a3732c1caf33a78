import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  hashPassword,
  verifyPassword,
  isPasswordRecord,
  scramKeys,
  scramVerifyClientProof,
  scramServerSignature,
  scramClientProof,
  type PasswordRecord,
} from './password.js';

const fast = { scryptN: 1024, scramIterations: 64 };

test('hash and verify: right, wrong, record round trip through JSON', async () => {
  const rec = await hashPassword('moxmoxmox', fast);
  assert.ok(isPasswordRecord(rec));
  assert.equal(await verifyPassword(rec, 'moxmoxmox'), true);
  assert.equal(await verifyPassword(rec, 'moxmoxmoX'), false);
  assert.equal(await verifyPassword(rec, ''), false);
  const back = JSON.parse(JSON.stringify(rec)) as PasswordRecord;
  assert.ok(isPasswordRecord(back));
  assert.equal(await verifyPassword(back, 'moxmoxmox'), true);
  assert.ok(!JSON.stringify(rec).includes('moxmoxmox'));
  // Salted: the same password hashes differently.
  const rec2 = await hashPassword('moxmoxmox', fast);
  assert.notEqual(rec2.scrypt.hash, rec.scrypt.hash);
  assert.notEqual(rec2.scramSha256.storedKey, rec.scramSha256.storedKey);
});

test('default scrypt parameters are stored in the record', async () => {
  const rec = await hashPassword('pw');
  assert.equal(rec.scrypt.N, 1 << 15);
  assert.equal(rec.scramSha256.iterations, 4096);
  assert.equal(await verifyPassword(rec, 'pw'), true);
});

test('NFC normalization: composed and decomposed forms verify', async () => {
  const rec = await hashPassword('caf\u00e9', fast);
  assert.equal(await verifyPassword(rec, 'cafe\u0301'), true);
});

// RFC 7677 §3 (SCRAM-SHA-256) and RFC 5802 §5 (SCRAM-SHA-1) example exchanges: user "user",
// password "pencil".
const vectors = [
  {
    h: 'sha256' as const,
    clientFirstBare: 'n=user,r=rOprNGfwEbeRWgbNEkqO',
    serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
    clientFinalNoProof: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
    proof: 'dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
    verifier: '6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
    salt: 'W22ZaJ0SNY7soEsUEjb6gQ==',
  },
  {
    h: 'sha1' as const,
    clientFirstBare: 'n=user,r=fyko+d2lbbFgONRv9qkxdawL',
    serverFirst: 'r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096',
    clientFinalNoProof: 'c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j',
    proof: 'v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=',
    verifier: 'rmF9pqV8S7suAoZWja4dJRkFsKQ=',
    salt: 'QSXCR+Q6sek8bf92',
  },
];

for (const v of vectors) {
  test(`SCRAM-${v.h.toUpperCase()} keys match the RFC test vector`, async () => {
    const keys = await scramKeys('pencil', Buffer.from(v.salt, 'base64'), 4096, v.h);
    const authMessage = `${v.clientFirstBare},${v.serverFirst},${v.clientFinalNoProof}`;
    assert.equal(scramVerifyClientProof(keys, v.h, authMessage, Buffer.from(v.proof, 'base64')), true);
    assert.equal(scramServerSignature(keys, v.h, authMessage).toString('base64'), v.verifier);
    assert.equal((await scramClientProof('pencil', keys, v.h, authMessage)).toString('base64'), v.proof);
    const bad = await scramClientProof('pencil!', keys, v.h, authMessage);
    assert.equal(scramVerifyClientProof(keys, v.h, authMessage, bad), false);
  });
}

test('record SCRAM keys verify a client proof made with the password', async () => {
  const rec = await hashPassword('secret', fast);
  const am = 'n=u,r=abc,r=abcdef,s=x,i=64,c=biws,r=abcdef';
  const proof = await scramClientProof('secret', rec.scramSha256, 'sha256', am);
  assert.equal(scramVerifyClientProof(rec.scramSha256, 'sha256', am, proof), true);
  const proof1 = await scramClientProof('secret', rec.scramSha1, 'sha1', am);
  assert.equal(scramVerifyClientProof(rec.scramSha1, 'sha1', am, proof1), true);
});
