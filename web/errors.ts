/**
 * HttpError: a request that cannot be served, with its HTTP status and a plain-text message that
 * is safe to show to the client. Thrown by the shared plumbing (body limits, form parsing) and
 * caught once per request by the listener or by the service that wants another error shape
 * (the webapi turns them into `{Code, Message}`).
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}
