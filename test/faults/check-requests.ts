import type { CheckInput, Violation, ViolationKind } from './check-types.js';
import type { ClientEvent } from './clients.js';
import type { FaultRecord } from './faults.js';
import type { RunRecord } from './nodes.js';

/** The socket a client had open at `t`, if any: its number, node and when it opened. */
function socketAt(events: ClientEvent[], t: number): { socket: number; node: number; openedAt: number } | undefined {
  let open: { socket: number; node: number; openedAt: number } | undefined;
  for (const event of events) {
    if (event.t > t) break;
    if (event.kind === 'open') open = { socket: event.socket, node: event.node, openedAt: event.t };
    else if (event.kind === 'close' && open?.socket === event.socket) open = undefined;
  }
  return open;
}

export function checkRequests(
  input: CheckInput,
  violations: Violation[],
  count: (name: string, by?: number) => void,
  at: (t: number) => string,
  faultsDuring: (from: number, to: number) => string,
): void {
  for (const client of input.clients) {
    for (const request of client.requests) {
      count('requests');
      const report = (kind: ViolationKind, detail: string) =>
        violations.push({ kind, client: client.id, detail: `request ${request.rid} sent at ${at(request.sentAt)}: ${detail}` });
      if (request.settledAt === undefined) {
        report(
          'request-unanswered',
          `never settled (timeout ${request.timeoutMs} ms); ${faultsDuring(request.sentAt, request.sentAt + request.timeoutMs)}`,
        );
        continue;
      }
      count(`requests-${request.outcome}`);
      if (request.outcome === 'data') {
        const rid = (request.answer as { rid?: unknown } | null)?.rid;
        if (rid !== request.rid) report('request-wrong-answer', `answered ${JSON.stringify(request.answer)}`);
        continue;
      }
      if (request.outcome !== 'ERR_REQUEST_TIMEOUT') continue;
      const socket = socketAt(client.events, request.settledAt);
      if (socket && request.settledAt - socket.openedAt >= input.answerWindowMs) {
        report(
          'request-timeout-connected',
          `timed out at ${at(request.settledAt)} on socket ${socket.socket} to node ${socket.node}, open since ${at(socket.openedAt)}; ${faultsDuring(request.sentAt, request.settledAt)}`,
        );
      } else count('requests-timeout-while-away');
    }
  }

  // Handler runs: the nodes' stdout and the Redis lists of every lifetime, one record per run.
  const runs = new Map<string, RunRecord>();
  for (const run of [...input.runs, ...input.lifetimes.flatMap((lifetime) => lifetime.runs)])
    runs.set(`${run.kind}|${run.run}`, run);
  const starts = new Map<string, RunRecord>();
  const done = new Map<string, RunRecord[]>();
  for (const run of runs.values()) {
    if (run.kind === 'start') {
      count('handler-starts');
      starts.set(run.run, run);
    } else {
      count('handler-completions');
      done.set(run.rid, [...(done.get(run.rid) ?? []), run]);
    }
  }
  /**
   * README, "What once means": the handler runs again when its node died or stopped past the lease
   * (a takeover) or Redis could not be reached (both: ctx.duplicateRisk), and after a Redis restart
   * or a failover that lost the last writes (the record is gone). Anything else that makes a second
   * run breaks "usually exactly once".
   */
  const documented = (runsOfId: RunRecord[]) => {
    const started = runsOfId.map((run) => starts.get(run.run) ?? run);
    if (started.some((run) => run.duplicateRisk)) return 'a run says duplicateRisk';
    const from = Math.min(...started.map((run) => run.at));
    const to = Math.max(...started.map((run) => run.at));
    if (input.faults.some((fault) => fault.kind === 'redis-restart' && fault.at <= to && (fault.healedAt ?? fault.at) >= from)) {
      return 'Redis restarted between the runs';
    }
    // A graceful failover loses nothing; a master killed before its replica had the claim does.
    const lossy = (fault: FaultRecord) => fault.kind === 'redis-failover' && fault.detail.includes('SIGKILL');
    if (input.faults.some((fault) => lossy(fault) && fault.at <= to && (fault.healedAt ?? fault.at) >= from)) {
      return 'a master was killed and its replica promoted between the runs';
    }
    return undefined;
  };
  const describeRuns = (runsOfId: RunRecord[]) =>
    runsOfId.map((run) => `${run.node} at ${at(run.at)}${run.duplicateRisk ? ' (duplicateRisk)' : ''}`).join(', ');
  for (const [rid, completed] of done) {
    if (completed.length < 2) continue;
    const why = documented(completed);
    if (why) {
      count('handler-twice-documented');
      continue;
    }
    violations.push({
      kind: 'handler-twice',
      client: rid.split('-')[0],
      detail: `request ${rid}'s handler completed ${completed.length} times: ${describeRuns(completed)}; ${faultsDuring(Math.min(...completed.map((run) => run.at)) - 2_000, Math.max(...completed.map((run) => run.at)))}`,
    });
  }

  // "The client gets one answer per id": every answer frame sent for an id carries the same answer.
  for (const client of input.clients) {
    const answers = new Map<string, Array<Extract<ClientEvent, { kind: 'res' }>>>();
    for (const event of client.events) {
      if (event.kind !== 'res' || event.error === 'ERR_REQUEST_PENDING') continue;
      answers.set(event.id, [...(answers.get(event.id) ?? []), event]);
    }
    for (const [id, frames] of answers) {
      const distinct = [...new Set(frames.map((frame) => frame.answer))];
      if (distinct.length < 2) continue;
      const rid = frames.map((frame) => (JSON.parse(frame.answer) as { rid?: string } | null)?.rid).find(Boolean);
      const runsOfId = rid ? (done.get(rid) ?? []) : [];
      if (runsOfId.length > 1 && documented(runsOfId)) {
        count('two-answers-documented');
        continue;
      }
      violations.push({
        kind: 'request-two-answers',
        client: client.id,
        detail: `request ${rid ?? id} was answered ${distinct.join(' and ')} (${frames.map((frame) => `socket ${frame.socket} at ${at(frame.t)}`).join(', ')}); runs: ${describeRuns(runsOfId)}`,
      });
    }
  }
}
