/** Public API of the config module: schemas and types, loading, lookups, edits, reload, describe. */
export {
  StaticConfigSchema,
  ListenerSchema,
  TransportSchema,
  KeyCertSchema,
  DEFAULT_PORTS,
  DEFAULT_SMTP_MAX_MESSAGE_SIZE,
  LOG_LEVEL_VALUES,
  type StaticConfig,
  type StaticConfigInput,
  type Listener,
  type ListenerTLS,
  type Transport,
  type TransportSMTP,
  type LogLevelName,
} from './static-schema.js';
export {
  DynamicConfigSchema,
  DomainSchema,
  AccountSchema,
  DestinationSchema,
  RulesetSchema,
  RouteSchema,
  AliasSchema,
  DKIMSelectorSchema,
  OUTGOING_WEBHOOK_EVENTS,
  DEFAULT_MAX_OUTGOING_MESSAGES_PER_DAY,
  DEFAULT_MAX_FIRST_TIME_RECIPIENTS_PER_DAY,
  type DynamicConfig,
  type DynamicConfigInput,
  type Domain,
  type Account,
  type Destination,
  type Ruleset,
  type Route,
  type Alias,
  type DKIMSelector,
  type OutgoingWebhookEvent,
} from './dynamic-schema.js';
export type { DeepReadonly } from './schema-helpers.js';
export { ConfigError, formatIssue, type ConfigIssue } from './errors.js';
export { parseDuration, formatDuration } from './duration.js';
export {
  loadConfig,
  loadStatic,
  loadStaticSync,
  loadDynamic,
  loadDynamicSync,
  parseStatic,
  parseDynamic,
  dynamicPathFor,
  DYNAMIC_FILE_NAME,
  sourceOf,
  type LoadedConfig,
} from './load.js';
export { parseAddress, normalizeAddress, normalizeDomain, isValidLocalpart, type ParsedAddress } from './address.js';
export {
  lookupDestination,
  lookupRecipient,
  accountAddresses,
  accountCatchalls,
  accountForAddress,
  findDomain,
  catchallSeparators,
  canonicalLocalpart,
  type LookupResult,
  type AccountDestinationResult,
  type AliasResult,
  type PostmasterResult,
} from './lookup.js';
export {
  editDomainsFile,
  addDomain,
  removeDomain,
  addAccount,
  removeAccount,
  addAddress,
  removeAddress,
  setAccountFields,
  setDomainFields,
  addAlias,
  removeAlias,
  type DomainsFile,
  type AddDomainOptions,
  type AccountFields,
  type DomainFields,
} from './write.js';
export { writeFileAtomic } from './atomic.js';
export { watchDynamic, DEFAULT_RELOAD_DEBOUNCE_MS, type DynamicWatcher, type ReloadResult, type WatchDynamicOptions } from './reload.js';
export { describeStatic, describeDomains, describeSchema } from './describe.js';
export { testConfig, type TestConfigOptions } from './testconfig.js';
