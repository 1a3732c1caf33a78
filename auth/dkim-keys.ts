/**
 * DKIM key generation and public-key records (rfc6376:3.6.1, rfc8463 for ed25519).
 *
 * Keys are stored as PKCS#8 PEM files, the form mox uses for `PrivateKeyFile`, so a key
 * written here can be read by mox and the other way round.
 */
import { generateKeyPair, generateKeyPairSync, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

export type DkimKeyAlgorithm = 'ed25519' | 'rsa';

/** RSA keys shorter than this are rejected by many verifiers; rfc8301:3.2 requires >= 1024, 2048 is the norm. */
export const DKIM_RSA_BITS = 2048;

/** Generate a new DKIM private key, returned as PKCS#8 PEM. */
export function generateDkimKey(algorithm: DkimKeyAlgorithm): string {
  const { privateKey } = algorithm === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('rsa', { modulusLength: DKIM_RSA_BITS });
  return pkcs8Pem(privateKey);
}

function pkcs8Pem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/**
 * generateDkimKey off the event loop (libuv thread pool): an RSA-2048 key takes tens to hundreds
 * of milliseconds, which a running server (admin pages adding a domain) must not block for.
 */
export async function generateDkimKeyAsync(algorithm: DkimKeyAlgorithm): Promise<string> {
  const gen = promisify(generateKeyPair) as (type: string, options: object) => Promise<{ privateKey: KeyObject }>;
  const { privateKey } = algorithm === 'ed25519' ? await gen('ed25519', {}) : await gen('rsa', { modulusLength: DKIM_RSA_BITS });
  return pkcs8Pem(privateKey);
}

export function dkimKeyAlgorithm(key: KeyObject): DkimKeyAlgorithm {
  const t = key.asymmetricKeyType;
  if (t === 'ed25519' || t === 'rsa') return t;
  throw new Error(`unsupported DKIM key type ${t ?? 'unknown'} (need rsa or ed25519)`);
}

/**
 * The `p=` value of a DKIM key record for a private key in PEM form.
 * RSA: base64 of the DER SubjectPublicKeyInfo (rfc6376:3.6.1).
 * Ed25519: base64 of the raw 32-byte public key, not the SPKI wrapper (rfc8463:4.2).
 */
export function dkimPublicKeyData(privatePem: string): { algorithm: DkimKeyAlgorithm; p: string } {
  const priv = createPrivateKey(privatePem);
  const algorithm = dkimKeyAlgorithm(priv);
  const spki = createPublicKey(priv).export({ type: 'spki', format: 'der' });
  // An ed25519 SPKI is a fixed 12-byte prefix followed by the 32 raw key bytes.
  const raw = algorithm === 'ed25519' ? spki.subarray(spki.length - 32) : spki;
  return { algorithm, p: raw.toString('base64') };
}

/** The TXT record value to publish at `<selector>._domainkey.<domain>`. */
export function dkimTxtRecord(privatePem: string): string {
  const { algorithm, p } = dkimPublicKeyData(privatePem);
  return `v=DKIM1;k=${algorithm};h=sha256;p=${p}`;
}
