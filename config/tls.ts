/**
 * TLS server contexts for a listener from its `TLS.KeyCerts` (PEM files) and `MinVersion`.
 * With several certificates the client's SNI name picks the one whose names match; otherwise
 * the first is used. Shared by the SMTP, IMAP and HTTP listeners.
 */
import { readFile } from 'node:fs/promises';
import { createSecureContext, type SecureContext, type SecureVersion } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { Listener } from './static-schema.js';

export interface ListenerTLS {
  /** The default context (first certificate). */
  context: SecureContext;
  /** SNI selection among all certificates. */
  sni(servername: string): SecureContext;
  /** PEM of the certificates, e.g. for clients in tests to trust. */
  certPems: string[];
}

function minVersion(v: string | undefined): SecureVersion {
  switch (v) {
    case 'TLSv1.0':
      return 'TLSv1';
    case 'TLSv1.1':
      return 'TLSv1.1';
    case 'TLSv1.3':
      return 'TLSv1.3';
    default:
      return 'TLSv1.2';
  }
}

/** Load a listener's certificates; undefined when it has no TLS section. */
export async function loadListenerTLS(l: Pick<Listener, 'TLS'>): Promise<ListenerTLS | undefined> {
  if (!l.TLS) return undefined;
  const entries: Array<{ ctx: SecureContext; names: string[]; pem: string }> = [];
  for (const kc of l.TLS.KeyCerts) {
    const [cert, key] = await Promise.all([readFile(kc.CertFile, 'utf8'), readFile(kc.KeyFile, 'utf8')]);
    const ctx = createSecureContext({ cert, key, minVersion: minVersion(l.TLS.MinVersion) });
    const x = new X509Certificate(cert);
    const names = (x.subjectAltName ?? '')
      .split(', ')
      .filter((n) => n.startsWith('DNS:'))
      .map((n) => n.slice(4).toLowerCase());
    entries.push({ ctx, names, pem: cert });
  }
  const first = entries[0]!;
  const matches = (pattern: string, name: string) =>
    pattern === name || (pattern.startsWith('*.') && name.endsWith(pattern.slice(1)) && !name.slice(0, -pattern.length + 1).includes('.'));
  return {
    context: first.ctx,
    sni: (servername) => {
      const n = servername.toLowerCase();
      return entries.find((e) => e.names.some((p) => matches(p, n)))?.ctx ?? first.ctx;
    },
    certPems: entries.map((e) => e.pem),
  };
}
