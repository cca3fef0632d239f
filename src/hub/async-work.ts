import { createHook } from 'node:async_hooks';

let started = 0;
let depth = 0;
// Enabled only for the length of a synchronous call: a hook left on would cost every promise,
// timer and request of the whole process.
const hook = createHook({
  init() {
    started++;
  },
});

/**
 * Calls `fn` and tells whether it started anything asynchronous: a promise, a timer, a
 * `nextTick`, a request of any kind. Code that started nothing can no longer act on what it was
 * given once it has returned, unless something that already existed calls it back; code that
 * did (an authentication lookup before `handleUpgrade`) may still act on it later.
 */
export function callNotingAsyncWork<T>(fn: () => T): { result: T; startedAsyncWork: boolean } {
  const before = started;
  if (depth++ === 0) hook.enable();
  try {
    const result = fn();
    return { result, startedAsyncWork: started !== before };
  } finally {
    if (--depth === 0) hook.disable();
  }
}
