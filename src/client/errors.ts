export type ClientErrorCode =
  | 'ERR_CLIENT_OPTIONS'
  | 'ERR_CONNECTION_CLOSED'
  | 'ERR_QUEUE_FULL'
  | 'ERR_NO_WEBSOCKET'
  /** `request()` got no answer within its `timeoutMs`. */
  | 'ERR_REQUEST_TIMEOUT'
  /** The server answered a request with an error that carried no code of its own. */
  | 'ERR_REQUEST_FAILED'
  /** The server sent an `error` frame without a code, or a frame this client could not read. */
  | 'ERR_SERVER';

/**
 * Codes let callers branch on a failure without parsing its message. A request's error answer
 * carries the server's own code (`ERR_NO_HANDLER`, or whatever the handler threw), hence any string.
 */
export class ClientError extends Error {
  // `string & {}` keeps the known codes suggested by editors while admitting the server's.
  readonly code: ClientErrorCode | (string & {});

  constructor(code: ClientErrorCode | (string & {}), message: string) {
    super(message);
    this.name = 'SwitchboardClientError';
    this.code = code;
  }
}
