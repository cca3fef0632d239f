/**
 * A set of callbacks for one kind of notice. Each runs in its own try/catch, like subscribers: one
 * component's bug must not keep the notice from the others.
 */
export class Listeners<T> {
  private readonly all = new Set<(value: T) => void>();

  constructor(private readonly report: (error: unknown) => void) {}

  add(listener: (value: T) => void): () => void {
    // A wrapper per call, so adding the same function twice gives two independent subscriptions.
    const entry = (value: T) => listener(value);
    this.all.add(entry);
    return () => {
      this.all.delete(entry);
    };
  }

  emit(value: T): void {
    for (const listener of [...this.all]) {
      try {
        listener(value);
      } catch (error) {
        this.report(error);
      }
    }
  }
}
