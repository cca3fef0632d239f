import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const SOAK = fileURLToPath(new URL('../bench/soak.ts', import.meta.url));

describe('soak (shortened; npm run bench runs 100,000 cycles)', () => {
  it('3,000 connect/send/close cycles leave memory, listeners, rooms and connections where they were', async () => {
    const output = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--expose-gc', '--import', 'tsx', SOAK, '--cycles', '3000', '--json'],
        (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)),
      );
    });
    const report = JSON.parse(output.trim().split('\n').at(-1) ?? '{}');
    assert.equal(report.finished, 3000);
    assert.equal(report.failed, 0);
    assert.deepEqual(report.listenersAfter, report.listenersBefore);
    assert.equal(report.openConnections, 0);
    assert.deepEqual(report.rooms, {});
    assert.equal(report.errors, 0);
    // Noise from the JIT and the allocator stays well under this; a leak of a few hundred bytes per cycle would not.
    assert.ok(report.heapGrowthBytes < 2 * 1024 * 1024, `heap grew by ${report.heapGrowthBytes} bytes`);
  });
});
