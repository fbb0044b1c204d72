/**
 * Debian's Chromium driven by playwright-core, for the status page's tests:
 * headless, no sandbox (the tests run as root, where Chromium's sandbox
 * refuses to start), nothing that phones home, and a fresh profile in a
 * temporary directory per context, removed by `close()`.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
] as const;

/** Why the browser tests cannot run here, or undefined when they can. */
export function browserUnavailable(): string | undefined {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is missing (Debian package chromium; make debs installs it)`;
  return undefined;
}

export interface BrowserOptions {
  /** Run Chromium inside this network namespace (`ip netns exec`), to reach a lab's 127.0.0.1. */
  readonly netns?: string;
  readonly javaScriptEnabled?: boolean;
  readonly colorScheme?: 'light' | 'dark';
  readonly viewport?: { width: number; height: number };
}

export interface OpenBrowser {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

/** A headless Chromium with a fresh --user-data-dir (playwright passes it from launchPersistentContext). */
export async function openBrowser(opts: BrowserOptions = {}): Promise<OpenBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'pgt-chromium-'));
  try {
    let executablePath = CHROMIUM;
    if (opts.netns !== undefined) {
      // playwright talks to the browser over a pipe, which `ip netns exec` passes through.
      executablePath = join(profile, 'chromium-in-netns');
      writeFileSync(executablePath, `#!/bin/sh\nexec ip netns exec ${opts.netns} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
    }
    const context = await chromium.launchPersistentContext(join(profile, 'data'), {
      executablePath,
      headless: true,
      args: [...CHROMIUM_ARGS],
      javaScriptEnabled: opts.javaScriptEnabled ?? true,
      colorScheme: opts.colorScheme ?? 'light',
      viewport: opts.viewport ?? { width: 1280, height: 900 },
      timeout: 30_000,
    });
    return {
      context,
      async close() {
        try {
          await context.close();
        } finally {
          rmSync(profile, { recursive: true, force: true });
        }
      },
    };
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
}
