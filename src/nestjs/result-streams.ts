import type { Observable, Subscription } from 'rxjs';

/**
 * The results of one client's `@SubscribeMessage` handlers, as Nest's adapters treat them: a
 * handler's return value becomes a stream, each non-null result of it is sent, a failure is
 * reported without silencing the client's later messages, and every stream still running ends
 * when the client goes.
 */
export class ResultStreams {
  private readonly running = new Set<Subscription>();

  constructor(
    private readonly transform: (data: unknown) => Observable<unknown>,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Calls a handler and hands each non-null result of its stream to `send`. */
  run(call: () => unknown, send: (response: unknown) => void): void {
    let result: Observable<unknown>;
    try {
      result = this.transform(call());
    } catch (error) {
      this.onError(error);
      return;
    }
    let subscription: Subscription | undefined;
    const settle = () => {
      if (subscription) this.running.delete(subscription);
    };
    subscription = result.subscribe({
      next(response) {
        if (response !== undefined && response !== null) send(response);
      },
      error: (error) => {
        settle();
        this.onError(error);
      },
      complete: settle,
    });
    if (!subscription.closed) this.running.add(subscription);
  }

  /** Ends every stream still running (the client disconnected). */
  endAll(): void {
    for (const subscription of this.running) subscription.unsubscribe();
    this.running.clear();
  }
}
