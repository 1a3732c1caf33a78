// Minimal declarations for the parts of libmime@5 that message/ uses.
declare module 'libmime' {
  interface ParsedHeaderValue {
    value: string;
    params: Record<string, string>;
  }
  interface Libmime {
    decodeWords(str: string): string;
    decodeWord(charset: string, encoding: string, str: string): string;
    encodeWord(data: string | Buffer, mimeWordEncoding?: 'Q' | 'B', maxLength?: number): string;
    encodeWords(data: string | Buffer, mimeWordEncoding?: 'Q' | 'B', maxLength?: number, encodeAll?: boolean): string;
    parseHeaderValue(str: string): ParsedHeaderValue;
    /** MIME type for a file name's extension (application/octet-stream when unknown). */
    detectMimeType(filename: string): string;
    /** rfc2231 parameter continuations for a value: [{key: "name*0*", value: "utf-8''..."}, ...]. */
    buildHeaderParam(key: string, data: string, maxLength?: number): Array<{ key: string; value: string }>;
  }
  const libmime: Libmime;
  export default libmime;
}
