/**
 * Turns the sections' results into what people and machines read: aligned tables on the
 * terminal, Markdown for bench/RESULTS.md, and JSON for `--json`.
 */
import type { Summary } from './stats.js';

export interface Table {
  title: string;
  columns: string[];
  rows: string[][];
  notes: string[];
}

export interface Target {
  name: string;
  wanted: string;
  measured: string;
  /** undefined when the section did not run or could not measure it. */
  met: boolean | undefined;
  /** By how much and why, when missed. */
  note?: string;
}

export interface SectionResult {
  id: string;
  tables: Table[];
  targets: Target[];
  data: unknown;
}

export interface Meta {
  date: string;
  command: string;
  mode: string;
  node: string;
  cpus: string;
  cores: number;
  ulimit: string;
  pinned: boolean;
  library: 'build' | 'source';
  handshakeClient: string;
  durationSeconds: number;
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** Three significant digits at most, thousands separated: figures, not noise. */
export function num(value: number): string {
  if (!Number.isFinite(value)) return '–';
  const abs = Math.abs(value);
  if (abs >= 100) return integer.format(value);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toFixed(3);
}

/** `median (min–max)` of the rounds; just the median when there was one round. */
export function cell(summary: Summary, format: (value: number) => string = num): string {
  if (summary.n === 0) return '–';
  if (summary.n === 1 || summary.min === summary.max) return format(summary.median);
  return `${format(summary.median)} (${format(summary.min)}–${format(summary.max)})`;
}

export function ratioCell(summary: Summary): string {
  return cell(summary, (value) => (Number.isFinite(value) ? value.toFixed(2) : '–'));
}

export function bytes(value: number): string {
  if (!Number.isFinite(value)) return '–';
  return `${integer.format(value)} B`;
}

export function percent(value: number): string {
  return Number.isFinite(value) ? `${Math.round(value * 100)}%` : '–';
}

export function mark(met: boolean | undefined): string {
  return met === undefined ? 'n/a' : met ? 'met' : 'MISSED';
}

function alignedTable(columns: string[], rows: string[][]): string {
  const widths = columns.map((column, index) => Math.max(column.length, ...rows.map((row) => (row[index] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((text, index) => (index === 0 ? text.padEnd(widths[index] ?? 0) : text.padStart(widths[index] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(columns), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)].join('\n');
}

function markdownTable(columns: string[], rows: string[][]): string {
  const escapeCell = (text: string) => text.replaceAll('|', '\\|');
  return [
    `| ${columns.map(escapeCell).join(' | ')} |`,
    `|${columns.map((_, index) => (index === 0 ? '---' : '---:')).join('|')}|`,
    ...rows.map((row) => `| ${row.map(escapeCell).join(' | ')} |`),
  ].join('\n');
}

function targetRows(sections: SectionResult[]): string[][] {
  return sections.flatMap((section) =>
    section.targets.map((target) => [target.name, target.wanted, target.measured, mark(target.met), target.note ?? '']),
  );
}

const TARGET_COLUMNS = ['target', 'wanted', 'measured', 'verdict', 'note'];

export function renderTerminal(meta: Meta, sections: SectionResult[]): string {
  const out: string[] = [
    `Switchboard bench (${meta.mode}) — ${meta.date}`,
    `node ${meta.node}, ${meta.cores} cores (${meta.cpus}), ulimit -n ${meta.ulimit}, ` +
      `${meta.pinned ? 'server and load pinned to their own core' : 'not pinned (no taskset)'}, library from ${meta.library}, ` +
      `${meta.durationSeconds.toFixed(0)} s`,
    '',
  ];
  for (const section of sections) {
    for (const table of section.tables) {
      out.push(`== ${table.title}`, alignedTable(table.columns, table.rows));
      for (const note of table.notes) out.push(`  * ${note}`);
      out.push('');
    }
  }
  out.push('== Targets', alignedTable(TARGET_COLUMNS, targetRows(sections)), '');
  return out.join('\n');
}

export function renderMarkdown(meta: Meta, sections: SectionResult[]): string {
  const out: string[] = [
    `Run on ${meta.date} with \`${meta.command}\` (${meta.mode} run, ${meta.durationSeconds.toFixed(0)} s).`,
    '',
    `Machine: ${meta.cores} cores (${meta.cpus}), Node ${meta.node}, \`ulimit -n\` ${meta.ulimit}; ` +
      `${meta.pinned ? 'server pinned to core 0 and its load to core 1 with taskset' : 'no CPU pinning'}; ` +
      `Switchboard loaded from its ${meta.library === 'build' ? 'esbuild build of src/ (as published)' : 'sources through tsx'}; ` +
      `handshake load from a ${meta.handshakeClient === 'raw' ? 'raw-socket RFC 6455 client' : '`ws` client'}.`,
    '',
    '### Targets',
    '',
    markdownTable(TARGET_COLUMNS, targetRows(sections)),
    '',
  ];
  for (const section of sections) {
    for (const table of section.tables) {
      out.push(`### ${table.title}`, '', markdownTable(table.columns, table.rows), '');
      for (const note of table.notes) out.push(`- ${note}`);
      if (table.notes.length > 0) out.push('');
    }
  }
  return out.join('\n');
}

export function toJson(meta: Meta, sections: SectionResult[]): string {
  return JSON.stringify(
    {
      meta,
      targets: sections.flatMap((section) => section.targets.map((target) => ({ section: section.id, ...target }))),
      sections: Object.fromEntries(sections.map((section) => [section.id, { tables: section.tables, data: section.data }])),
    },
    (_key, value) => (typeof value === 'number' && !Number.isFinite(value) ? null : value),
    2,
  );
}
