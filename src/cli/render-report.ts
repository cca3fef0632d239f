import type { GuardReport } from '../guard/index.js';

/** The doctor's report as a terminal table: each server's routes with their owners, then findings. */
export function renderReport(app: string, report: GuardReport, { color }: { color: boolean }): string {
  const paint = (code: string, text: string) => (color ? `\u001b[${code}m${text}\u001b[0m` : text);
  const bold = (text: string) => paint('1', text);
  const lines: string[] = [bold(`switchboard doctor: ${app}`), ''];

  if (report.servers.length === 0) lines.push('No HTTP server is listening.', '');
  for (const server of report.servers) {
    lines.push(bold(`server ${server.address}`));
    const rows = server.routes.map((route) => [
      route.pattern + (route.host ? ` (host ${route.host})` : '') + (route.protocol ? ` (protocol ${route.protocol})` : ''),
      route.kind,
      route.owner ?? '?',
      String(route.connections),
    ]);
    for (const listener of server.adopted) rows.push(['(unrouted handshakes)', "'upgrade' listener", listener.owner ?? '?', '-']);
    if (rows.length === 0) lines.push('  no WebSocket routes');
    else lines.push(...table(['PATTERN', 'KIND', 'CALL SITE', 'CONNECTIONS'], rows).map((line) => `  ${line}`));
    lines.push('');
  }

  const conflicts = report.findings.filter((finding) => finding.severity === 'conflict');
  const warnings = report.findings.filter((finding) => finding.severity === 'warning');
  for (const [title, list, mark, code] of [
    ['Conflicts', conflicts, '✖', '31'],
    ['Warnings', warnings, '!', '33'],
  ] as const) {
    if (list.length === 0) continue;
    lines.push(bold(`${title} (${list.length})`));
    for (const finding of list) {
      lines.push(`  ${paint(code, mark)} ${finding.summary}`);
      for (const party of finding.parties) lines.push(`      ${party}`);
      lines.push(`    ${finding.message}`);
    }
    lines.push('');
  }
  lines.push(
    conflicts.length === 0
      ? paint('32', `No conflict${warnings.length ? ` (${warnings.length} warning${warnings.length > 1 ? 's' : ''})` : ''}.`)
      : paint('31', `${conflicts.length} conflict${conflicts.length > 1 ? 's' : ''}.`),
  );
  return `${lines.join('\n')}\n`;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const format = (row: string[]) =>
    row
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return [format(header), ...rows.map(format)];
}
