/** Codes let callers branch on a failure without parsing its message. */
export type SwitchboardErrorCode =
  | 'ERR_INVALID_PATTERN'
  | 'ERR_INVALID_OPTION'
  | 'ERR_ROUTE_CONFLICT'
  | 'ERR_WS_ATTACHED'
  | 'ERR_HUB_CLOSED'
  | 'ERR_MISSING_PEER'
  | 'ERR_BROKER_UNAVAILABLE'
  | 'ERR_METRICS_REGISTERED';

export class SwitchboardError extends Error {
  readonly code: SwitchboardErrorCode;

  constructor(code: SwitchboardErrorCode, message: string) {
    super(message);
    this.name = 'SwitchboardError';
    this.code = code;
  }
}
