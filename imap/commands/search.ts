// rfc9051:6.4.4 SEARCH / UID SEARCH with rfc4731 ESEARCH return options (MIN MAX COUNT ALL) and
// rfc5182 SAVE. Which messages match is decided by imap/search/.
import { ImapError } from '../errors.js';
import type { SearchProgram } from '../search/types.js';
import type { SearchReturn } from '../protocol/command.js';
import type { Session } from '../session.js';

export async function search(_s: Session, _tag: string, _c: { uid: boolean; ret?: SearchReturn[]; program: SearchProgram }): Promise<string | void> {
  throw new ImapError('NO', 'CANNOT', 'SEARCH not available yet');
}
