/**
 * For `await import('package').catch(ifMissing)`: `undefined` when the package is not installed,
 * so that the demo runs without the service that needs it; any other failure is thrown.
 */
export function ifMissing(error: unknown): undefined {
  if ((error as NodeJS.ErrnoException | undefined)?.code === 'ERR_MODULE_NOT_FOUND') return undefined;
  throw error;
}
