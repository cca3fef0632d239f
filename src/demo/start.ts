/** Placeholder until the demo lands: refuses clearly rather than doing nothing. */
export async function startDemo(_options: { port: number }): Promise<void> {
  throw new Error('the demo is not built yet; run the example server with npm start');
}
