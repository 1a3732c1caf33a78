/** Public entry of the account store; see store/README.md. */
export { Store, MAX_BATCH, DEFAULT_INLINE_MAX_SIZE, MAX_CONCURRENT_SYNCS, type StoreOptions, type DeliveryStats } from './store.js';
export {
  Account,
  DEFAULT_MAILBOXES,
  normalizeMailboxName,
  checkMailboxName,
  type DeliverOptions,
  type Delivered,
  type FlagUpdate,
  type FlagResult,
  type CopyResult,
  type ExpungeResult,
  type Changes,
  type UidSet,
} from './account.js';
export { ChangeBus, type Change, type ChangeListener } from './changes.js';
export * from './types.js';
export { openDb, migrate, type Db, type Migration, type OpenDbOptions } from './db.js';
export * as paths from './paths.js';
export { readRange, tempFilePath, writeTempFile, writeFileSynced, syncDir, sweepTmp } from './msgfile.js';
