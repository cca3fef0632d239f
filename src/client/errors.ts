export type ClientErrorCode = 'ERR_CLIENT_OPTIONS' | 'ERR_CONNECTION_CLOSED' | 'ERR_QUEUE_FULL' | 'ERR_NO_WEBSOCKET';

/** Codes let callers branch on a failure without parsing its message. */
export class ClientError extends Error {
  readonly code: ClientErrorCode;

  constructor(code: ClientErrorCode, message: string) {
    super(message);
    this.name = 'SwitchboardClientError';
    this.code = code;
  }
}
