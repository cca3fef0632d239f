// The soak's load: CYCLES connect/send/receive/close cycles against the hub, CONCURRENCY at a time.
import { WebSocket } from 'ws';

const [url, cyclesText, concurrencyText] = process.argv.slice(2);
const cycles = Number(cyclesText);
const concurrency = Number(concurrencyText);
let started = 0;
let finished = 0;
let failed = 0;

function cycle(): Promise<void> {
  return new Promise((resolve) => {
    const index = started++;
    const ws = new WebSocket(`${url}?user=u${index % 50}&tenant=t${index % 5}`);
    const done = () => {
      finished++;
      resolve();
    };
    ws.on('open', () => ws.send(`hello ${index}`));
    ws.on('message', () => ws.close());
    ws.on('close', done);
    ws.on('error', () => {
      failed++;
    });
  });
}

async function worker(): Promise<void> {
  while (started < cycles) await cycle();
}

await Promise.all(Array.from({ length: concurrency }, worker));
process.send?.({ finished, failed });
