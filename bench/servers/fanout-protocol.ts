/** What fan-out servers and the load agree on, kept apart so the load imports no server code. */
export const FANOUT_PATH = '/fan';
/** Socket.IO's event name for the fan-out message. */
export const FANOUT_EVENT = 'm';
