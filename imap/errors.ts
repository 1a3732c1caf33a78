/**
 * The one error type of the IMAP server (DESIGN §5): thrown by parsers and command handlers,
 * caught once per command by the session, which turns it into a tagged NO or BAD.
 * `code` is a response code without brackets (rfc9051:7.1), e.g. "TRYCREATE" or "TOOBIG".
 */
export class ImapError extends Error {
  constructor(
    readonly kind: 'NO' | 'BAD',
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'ImapError';
  }
}

export const bad = (msg: string, code?: string): ImapError => new ImapError('BAD', code, msg);
export const no = (msg: string, code?: string): ImapError => new ImapError('NO', code, msg);
