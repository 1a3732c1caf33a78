/**
 * Types for the internal mailauth 4.13.3 modules moxts uses directly (the package's own
 * index.d.ts only covers the main entry point). mailauth has no "exports" map, so these deep
 * imports are allowed; the version is pinned in package.json, keep these in step with it.
 */

declare module 'mailauth/lib/tools.js' {
  export interface ParsedHeaderLine {
    /** Lowercased field name. */
    key: string | null;
    /** Field name as written. */
    casedKey: string | undefined;
    /** The whole header field (name, colon, value, folding), without the final CRLF. */
    line: Buffer;
  }
  interface MailauthTools {
    parseHeaders(buf: Buffer): { parsed: ParsedHeaderLine[]; original: Buffer };
    formatSignatureHeaderLine(type: 'DKIM' | 'ARC' | 'AS', values: Record<string, unknown>, folded?: boolean): string;
    getPrivateKey(pem: string | Buffer): import('node:crypto').KeyObject;
    TLDTS_OPTS: { allowIcannDomains: boolean; allowPrivateDomains: boolean };
  }
  const tools: MailauthTools;
  export default tools;
}

declare module 'mailauth/lib/dkim/body/index.js' {
  export interface BodyHasher {
    update(chunk: Buffer): void;
    digest(encoding: 'base64'): string;
  }
  const body: {
    /** canonicalization: 'simple' | 'relaxed' (or 'x/y', the body part is used). */
    dkimBody(canonicalization: string, hashAlgo: string, maxBodyLength: number | false): BodyHasher;
  };
  export default body;
}

declare module 'mailauth/lib/dkim/header/index.js' {
  import type { ParsedHeaderLine } from 'mailauth/lib/tools.js';
  const header: {
    generateCanonicalizedHeader(
      type: 'DKIM',
      signingHeaderLines: { keys: string; headers: ParsedHeaderLine[] },
      options: {
        signingDomain: string;
        selector: string;
        algorithm: string;
        canonicalization: string;
        bodyHash: string;
        signTime?: Date;
        expires?: Date;
      },
    ): { canonicalizedHeader: Buffer; signatureHeaderLine: string; dkimHeaderOpts: Record<string, unknown> };
  };
  export default header;
}
