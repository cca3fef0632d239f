// The fault-injection suite from the command line:
//   node --import tsx test/faults/run.ts --seed N --seconds S [--seeds K] [--cluster] [--no-recover] [--verbose] [--dump DIR]
// (npm run faults -- --seed 1 --seconds 30). --cluster: on a Redis Cluster whose shards fail over. Prints, per seed, the faults that ran and every
// violation; exits 1 when there is any.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { formatResult, runSeed } from './harness.js';
import { killAll } from './processes.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: String(Date.now() % 100_000) },
    seconds: { type: 'string', default: '30' },
    seeds: { type: 'string', default: '1' },
    'no-recover': { type: 'boolean', default: false },
    cluster: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
    dump: { type: 'string' },
  },
});

const first = Number(values.seed);
const seconds = Number(values.seconds);
const seeds = Number(values.seeds);
if (!Number.isInteger(first) || !(seconds > 0) || !Number.isInteger(seeds) || seeds < 1) {
  console.error('usage: run.ts --seed N --seconds S [--seeds K] [--cluster] [--no-recover] [--verbose] [--dump DIR]');
  process.exit(2);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}

/** Maps (the snapshots' rooms) as objects. */
function replacer(_key: string, value: unknown): unknown {
  return value instanceof Map ? Object.fromEntries(value) : value;
}

let failed = 0;
for (let seed = first; seed < first + seeds; seed++) {
  console.log(
    `seed ${seed}: ${seconds} s of faults${values.cluster ? ' on Redis Cluster' : ''}${values['no-recover'] ? ', route without recover' : ''}`,
  );
  try {
    const result = await runSeed({
      seed,
      seconds,
      recover: !values['no-recover'],
      cluster: values.cluster,
      log: values.verbose ? (line) => console.log(`  [${seed}] ${line}`) : undefined,
    });
    for (const line of formatResult(result)) console.log(line);
    if (values.dump) {
      mkdirSync(values.dump, { recursive: true });
      const file = path.join(
        values.dump,
        `seed-${seed}${values.cluster ? '-cluster' : ''}${values['no-recover'] ? '-no-recover' : ''}.json`,
      );
      writeFileSync(file, JSON.stringify({ ...result, data: result.data }, replacer, 1));
      console.log(`  everything the check read: ${file}`);
    }
    if (result.violations.length > 0) failed++;
  } catch (error) {
    failed++;
    console.log(`seed ${seed}: the harness failed: ${(error as Error).stack}`);
  }
}
console.log(
  failed === 0
    ? `all ${seeds} seed(s) without violations`
    : `${failed} of ${seeds} seed(s) with violations (rerun with --seed <seed>)`,
);
process.exit(failed === 0 ? 0 : 1);
