import type { WebSocket } from 'ws';
import type { AnswerRecord } from './answer-record.js';
import { type Answer, answerFrame, errorFrame, parseRequest } from './wire.js';

/** What a request handler is given besides the data. */
export interface RequestContext {
  /** The connection the request came on (after a reconnect, the new one). */
  ws: WebSocket;
  /** The client's id of the request, the same when it is sent again. */
  id: string;
  event: string;
  /**
   * True when this run may not be the only one of this id: it took over the claim of a run that
   * never settled (its node died, or stopped longer than the claim's lease), or the cluster's
   * record could not be reached (Redis away: the handler runs anyway). A Redis restart loses the
   * record unseen, so a run after one says false. Side effects keyed by `id` stay single either way.
   */
  duplicateRisk: boolean;
  /** Aborted when another run took this one's claim over (this one missed its lease): stop, its answer will not be used. */
  signal: AbortSignal;
}

export type RequestHandler = (data: unknown, ctx: RequestContext) => unknown;

/**
 * What became of a request the hub took: its handler ran (`run`; `takeover`: after another run's
 * lease ran out; `unrecorded`: without the cluster's record, Redis away), or it was answered
 * from the record of an earlier run (this node's or the cluster's).
 */
export type RequestRunResult = 'run' | 'answered_from_record' | 'takeover' | 'unrecorded';

/** How long an answer is kept for a request sent again after a reconnect. */
export const ANSWERS_KEPT_MS = 2 * 60_000;

/**
 * `hub.onRequest(ws, event, handler)`: acknowledged requests. A request is answered once per id:
 * sent again after a reconnect (on any connection of this hub), it gets the answer of the first
 * run, or waits for it, instead of running the handler twice. The handler can still start twice
 * (a node dying or stopping inside it, Redis away; see `duplicateRisk`), but the client gets one
 * answer per id: the recorded one.
 */
export class Requests {
  private readonly handlers = new WeakMap<WebSocket, Map<string, RequestHandler>>();
  /** Whose requests a connection makes (its user): an id names a request within that scope only. */
  private readonly scopes = new WeakMap<WebSocket, string>();
  private readonly answers = new Map<string, { answer: Promise<Answer>; at: number }>();
  private readonly sweep: NodeJS.Timeout;

  constructor(
    private readonly reportError: (error: unknown, fields: Record<string, unknown>) => void,
    /** The cluster's record (Redis), so that a request resent to another node runs once there too. */
    private readonly record?: AnswerRecord,
    /** Told of each request taken, for metrics. */
    private readonly counted: (result: RequestRunResult) => void = () => {},
  ) {
    this.sweep = setInterval(() => this.forgetOld(), 30_000);
    this.sweep.unref();
  }

  /** Requests of this connection are its user's: a resent id is matched among that user's only. */
  scope(ws: WebSocket, userId: string): void {
    this.scopes.set(ws, userId);
  }

  on(ws: WebSocket, event: string, handler: RequestHandler): void {
    this.listen(ws).set(event, handler);
  }

  /** Answers the connection's requests from now on (`ERR_NO_HANDLER` for an event nobody handles). */
  listen(ws: WebSocket): Map<string, RequestHandler> {
    let handlers = this.handlers.get(ws);
    if (!handlers) {
      handlers = new Map();
      this.handlers.set(ws, handlers);
      ws.on('message', (data, isBinary) => {
        if (!isBinary) this.received(ws, data.toString());
      });
    }
    return handlers;
  }

  close(): void {
    clearInterval(this.sweep);
  }

  private received(ws: WebSocket, text: string): void {
    const request = parseRequest(text);
    if (!request) return;
    if ('error' in request) {
      send(ws, errorFrame('ERR_BAD_REQUEST', request.error));
      return;
    }
    const key = `${this.scopes.get(ws) ?? ''}\u0000${request.id}`;
    let kept = this.answers.get(key);
    if (kept) this.counted('answered_from_record');
    else {
      const handler = this.handlers.get(ws)?.get(request.event);
      if (!handler) {
        send(
          ws,
          answerFrame(request.id, {
            error: { code: 'ERR_NO_HANDLER', message: `no handler for requests "${request.event}" on this connection` },
          }),
        );
        return;
      }
      const ctx = { ws, id: request.id, event: request.event, duplicateRisk: false, signal: neverAborted() };
      let answer: Promise<Answer>;
      if (this.record) answer = this.runOnce(key, handler, request.data, ctx);
      else {
        this.counted('run');
        answer = this.run(handler, request.data, ctx);
      }
      const entry = { answer, at: Date.now() };
      kept = entry;
      this.answers.set(key, entry);
      // Not an answer but "ask again": kept, it would answer every resend here the same for minutes.
      void answer.then((settled) => {
        if (isPending(settled) && this.answers.get(key) === entry) this.answers.delete(key);
      });
    }
    void kept.answer.then((answer) => send(ws, answerFrame(request.id, answer)));
  }

  /**
   * Runs the handler unless another node claimed the id first, whose answer is then this one. A
   * run that lost its claim meanwhile answers with the run that took it over, never with its own.
   */
  private async runOnce(key: string, handler: RequestHandler, data: unknown, ctx: RequestContext): Promise<Answer> {
    const record = this.record as AnswerRecord;
    let claim: Awaited<ReturnType<AnswerRecord['claim']>>;
    try {
      claim = await record.claim(key);
    } catch (error) {
      // Without the record this node cannot know; running is the lesser harm than no answer at all.
      this.reportError(error, { during: 'request record', event: ctx.event });
      this.counted('unrecorded');
      return this.run(handler, data, { ...ctx, duplicateRisk: true });
    }
    if ('answer' in claim) {
      if (claim.recorded) this.counted('answered_from_record');
      return claim.answer;
    }
    this.counted(claim.takeover ? 'takeover' : 'run');
    const answer = await this.run(handler, data, { ...ctx, duplicateRisk: claim.takeover, signal: claim.signal });
    try {
      return await claim.settle(answer);
    } catch (error) {
      this.reportError(error, { during: 'request record', event: ctx.event });
      return answer;
    }
  }

  private async run(handler: RequestHandler, data: unknown, ctx: RequestContext): Promise<Answer> {
    try {
      return { data: (await handler(data, ctx)) ?? null };
    } catch (error) {
      const code = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : 'ERR_HANDLER';
      const message = error instanceof Error ? error.message : String(error);
      if (code === 'ERR_HANDLER') this.reportError(error, { during: 'request handler', event: ctx.event });
      return { error: { code, message } };
    }
  }

  private forgetOld(): void {
    const oldest = Date.now() - ANSWERS_KEPT_MS;
    for (const [id, kept] of this.answers) if (kept.at < oldest) this.answers.delete(id);
  }
}

/** The signal of a run nobody can take over (no cluster record, or none reachable); one each, so listeners go with the run. */
function neverAborted(): AbortSignal {
  return new AbortController().signal;
}

function isPending(answer: Answer): boolean {
  return 'error' in answer && answer.error.code === 'ERR_REQUEST_PENDING';
}

function send(ws: WebSocket, frame: string): void {
  if (ws.readyState === 1) ws.send(frame);
}
