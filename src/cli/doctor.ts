import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GuardReport } from '../guard/index.js';
import { renderReport } from './render-report.js';

export interface DoctorOptions {
  app: string;
  appArgs: string[];
  json: boolean;
  timeoutMs: number;
}

/** Exit codes: 0 no conflict, 1 a conflict, 2 the app could not be inspected. */
export async function doctor(options: DoctorOptions, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const register = fileURLToPath(new URL(`../guard/register${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url));
  const child = spawn(process.execPath, ['--import', register, options.app, ...options.appArgs], {
    env: { ...process.env, SWITCHBOARD_DOCTOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let appOutput = '';
  child.stdout?.on('data', (chunk) => {
    appOutput += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    appOutput += chunk;
  });

  const outcome = await new Promise<{ report: GuardReport } | { exited: number | null } | { timedOut: true }>((resolve) => {
    const timer = setTimeout(() => resolve({ timedOut: true }), options.timeoutMs);
    child.on('message', (message: { switchboardDoctor?: GuardReport }) => {
      if (!message?.switchboardDoctor) return;
      clearTimeout(timer);
      resolve({ report: message.switchboardDoctor });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ exited: code });
    });
  });
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 2_000);
    await new Promise((resolve) => child.once('exit', resolve));
    clearTimeout(killer);
  }

  if ('report' in outcome) {
    if (options.json) out.write(`${JSON.stringify({ app: options.app, ...outcome.report }, null, 2)}\n`);
    else out.write(renderReport(options.app, outcome.report, { color: isColorTerminal(out) }));
    return outcome.report.conflicts > 0 ? 1 : 0;
  }
  const why =
    'timedOut' in outcome
      ? `no server of ${options.app} was listening after ${options.timeoutMs} ms (use --timeout to wait longer)`
      : `${options.app} exited with code ${outcome.exited} before any of its servers listened`;
  if (options.json) {
    out.write(`${JSON.stringify({ app: options.app, error: why, output: appOutput.slice(-4_000) }, null, 2)}\n`);
  } else {
    out.write(`switchboard doctor: ${why}.\n`);
    if (appOutput.trim()) out.write(`\nWhat the app printed:\n${appOutput.slice(-4_000)}\n`);
  }
  return 2;
}

function isColorTerminal(out: NodeJS.WritableStream): boolean {
  return Boolean((out as NodeJS.WriteStream).isTTY) && !process.env.NO_COLOR;
}
