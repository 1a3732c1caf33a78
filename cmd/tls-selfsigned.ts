/**
 * Self-signed TLS certificate for localserve and for tests: ECDSA P-256, valid 4 years (as mox's
 * localserve), with the host names and IPs as subjectAltNames. Node has no API to create X.509
 * certificates, so this uses the `selfsigned` package.
 */
import { generate } from 'selfsigned';
import { isIP } from 'node:net';

/** Validity of a generated certificate: 4 years, like mox localserve; long enough to never bother a developer. */
export const SELFSIGNED_VALIDITY_DAYS = 4 * 365;

export async function generateSelfSignedCert(
  names: string[],
  now: Date = new Date(),
): Promise<{ certPem: string; keyPem: string }> {
  const dnsNames = names.filter((n) => !isIP(n));
  const ips = names.filter((n) => isIP(n));
  const r = await generate([{ name: 'commonName', value: dnsNames[0] ?? ips[0] ?? 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: new Date(now.getTime() + SELFSIGNED_VALIDITY_DAYS * 86_400_000),
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [...dnsNames.map((value) => ({ type: 2 as const, value })), ...ips.map((ip) => ({ type: 7 as const, ip }))],
      },
    ],
  });
  return { certPem: r.cert, keyPem: r.private };
}
