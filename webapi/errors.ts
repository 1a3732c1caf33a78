/**
 * ApiError: the one error type of the webapi, answered as HTTP 400 `{Code, Message}` (mox's
 * webapi.Error). Codes are mox's; `server` is for our own failures (logged as errors), every other
 * code is the client's doing.
 */
export const ERROR_CODES = [
  // Generic.
  'protocol',
  'user',
  'server',
  'error',
  'badAddress',
  // Send.
  'missingBody',
  'multipleFrom',
  'badFrom',
  'domainDisabled',
  'noRecipients',
  'messageLimitReached',
  'recipientLimitReached',
  'messageTooLarge',
  'malformedMessageID',
  'sentOverQuota',
  // Message methods.
  'messageNotFound',
  'partNotFound',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}
