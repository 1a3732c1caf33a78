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
  }
  const libmime: Libmime;
  export default libmime;
}
