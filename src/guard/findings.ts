import { SwitchboardError } from '../errors.js';

/** What the guard found at start-up: a conflict it could not resolve, or a merge it made. */
export interface Finding {
  severity: 'conflict' | 'warning';
  /** Short description, e.g. `two ws servers on "/chat"`. */
  summary: string;
  /** The full text, naming every party's call site. */
  message: string;
  /** `file:line:column` of each party, first registered first. */
  parties: string[];
}

/** Kept under a global symbol: the ESM and CommonJS builds of the guard share one list. */
const FINDINGS = Symbol.for('switchboard.guard.findings');
type Holder = typeof globalThis & { [FINDINGS]?: Finding[] };

export function findings(): Finding[] {
  const holder = globalThis as Holder;
  holder[FINDINGS] ??= [];
  return holder[FINDINGS];
}

/**
 * Records a finding and prints it once. Under `SWITCHBOARD_STRICT=1` a conflict or a merge is a
 * start-up error with the same text, thrown from the line of the user's code that caused it.
 */
export function report(finding: Finding): void {
  const list = findings();
  if (list.some((known) => known.message === finding.message)) return;
  list.push(finding);
  const text = `switchboard: ${finding.severity === 'conflict' ? 'conflict' : 'warning'}: ${finding.message}`;
  if (isStrict()) throw new SwitchboardError('ERR_ROUTE_CONFLICT', text);
  console.warn(text);
}

export function isStrict(): boolean {
  const value = process.env.SWITCHBOARD_STRICT;
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false';
}
