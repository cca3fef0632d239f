import { listeningServers } from './patch-server.js';
import { probeAdoptedListeners } from './probe-listeners.js';
import { guardReport } from './report.js';

/** How long the app may keep adding routes after its first server listens. */
const SETTLE_MS = 300;

/**
 * Under `switchboard doctor` (which sets SWITCHBOARD_DOCTOR and opens an IPC channel), sends the
 * guard's report once the app's servers listen and nothing new has been registered for a moment.
 */
export function reportToDoctorWhenListening(): void {
  if (!process.env.SWITCHBOARD_DOCTOR || typeof process.send !== 'function') return;
  let timer: NodeJS.Timeout | undefined;
  const poll = setInterval(() => {
    const listening = [...listeningServers].some((server) => server.listening);
    if (!listening || timer) return;
    timer = setTimeout(() => {
      clearInterval(poll);
      // Raw listeners show whether one takes every path only when handshakes come: send two.
      void probeAdoptedListeners(listeningServers).then(() => process.send?.({ switchboardDoctor: guardReport() }));
    }, SETTLE_MS);
  }, 50);
  poll.unref();
}
