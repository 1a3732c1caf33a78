/**
 * The command table: which states each command is allowed in (rfc9051:6.1-6.4) and its module.
 * A handler returns the tagged OK's text (undefined: "<NAME> completed"; null: already answered)
 * or throws ImapError.
 */
import type { Command, CommandName } from '../protocol/command.js';
import type { Session, SessionState } from '../session.js';
import { capability } from './capability.js';
import { noop } from './noop.js';
import { logout } from './logout.js';
import { starttls } from './starttls.js';
import { enable } from './enable.js';
import { id } from './id.js';
import { namespace } from './namespace.js';
import { login } from './login.js';
import { authenticate } from './authenticate.js';
import { select } from './select.js';
import { create } from './create.js';
import { del } from './delete.js';
import { rename } from './rename.js';
import { subscribe } from './subscribe.js';
import { list, lsub } from './list.js';
import { status } from './status.js';
import { append } from './append.js';
import { idle } from './idle.js';
import { close } from './close.js';
import { expunge } from './expunge.js';
import { search } from './search.js';
import { fetch } from './fetch.js';
import { store } from './store.js';
import { copy } from './copy.js';
import { getquota, getquotaroot, setquota } from './quota.js';

type Handler<C> = (s: Session, tag: string, c: C) => Promise<string | null | void>;
type Spec<N extends CommandName> = { states: readonly SessionState[]; run: Handler<Extract<Command, { name: N }>> };

const ANY: readonly SessionState[] = ['notauth', 'auth', 'selected'];
const NOTAUTH: readonly SessionState[] = ['notauth'];
const AUTH: readonly SessionState[] = ['auth', 'selected'];
const SELECTED: readonly SessionState[] = ['selected'];

export const COMMANDS: { [N in CommandName]: Spec<N> } = {
  CAPABILITY: { states: ANY, run: capability },
  NOOP: { states: ANY, run: noop },
  LOGOUT: { states: ANY, run: logout },
  ID: { states: ANY, run: id },
  STARTTLS: { states: NOTAUTH, run: starttls },
  LOGIN: { states: NOTAUTH, run: login },
  AUTHENTICATE: { states: NOTAUTH, run: authenticate },
  ENABLE: { states: AUTH, run: enable },
  SELECT: { states: AUTH, run: select },
  EXAMINE: { states: AUTH, run: select },
  CREATE: { states: AUTH, run: create },
  DELETE: { states: AUTH, run: del },
  RENAME: { states: AUTH, run: rename },
  SUBSCRIBE: { states: AUTH, run: subscribe },
  UNSUBSCRIBE: { states: AUTH, run: subscribe },
  LIST: { states: AUTH, run: list },
  LSUB: { states: AUTH, run: lsub },
  NAMESPACE: { states: AUTH, run: namespace },
  STATUS: { states: AUTH, run: status },
  APPEND: { states: AUTH, run: append },
  IDLE: { states: AUTH, run: idle },
  GETQUOTA: { states: AUTH, run: getquota },
  GETQUOTAROOT: { states: AUTH, run: getquotaroot },
  SETQUOTA: { states: AUTH, run: setquota },
  CHECK: { states: SELECTED, run: noop },
  CLOSE: { states: SELECTED, run: close },
  UNSELECT: { states: SELECTED, run: close },
  EXPUNGE: { states: SELECTED, run: expunge },
  'UID EXPUNGE': { states: SELECTED, run: expunge },
  SEARCH: { states: SELECTED, run: search },
  FETCH: { states: SELECTED, run: fetch },
  STORE: { states: SELECTED, run: store },
  COPY: { states: SELECTED, run: copy },
  MOVE: { states: SELECTED, run: copy },
};
