/** pathguard's version, from package.json (shown by --version and on /status). */
import { readFileSync } from 'node:fs';

let cached: string | undefined;

export function packageVersion(): string {
  if (cached !== undefined) return cached;
  const pkg = new URL('../../../package.json', import.meta.url);
  try {
    cached = (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
  } catch {
    cached = 'unknown';
  }
  return cached;
}
