/** Maps errors to exit codes and human-readable one-liners. */
import { PathguardError } from '../errors.js';

/** 2 for usage and configuration errors, 1 for everything else. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof PathguardError && (err.code === 'PG_USAGE' || err.code === 'PG_CONFIG')) return 2;
  return 1;
}

export function formatError(err: unknown): string {
  if (err instanceof PathguardError) return err.message;
  if (err instanceof Error) return err.stack ?? err.message;
  return String(err);
}
