/** Bounded polling for the parent: every wait of the bench has a deadline. */

export async function until(isDone: () => boolean | Promise<boolean>, limitMs: number, stepMs = 50): Promise<boolean> {
  const deadline = performance.now() + limitMs;
  while (!(await isDone())) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, stepMs));
  }
  return true;
}
