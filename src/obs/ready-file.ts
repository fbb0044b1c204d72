/**
 * `--ready-file PATH`: a file that appears, complete, once a long-running
 * command is ready, and disappears when it shuts down. End-to-end tests and
 * scripts wait for it instead of sleeping.
 *
 * Atomic by rename(2): the content is written to a temporary file in the
 * same directory (same filesystem, so rename is atomic) and renamed over
 * PATH, so a reader sees no file or the whole file, never a partial one. No
 * fsync: the file announces a live process, it has no meaning after a crash.
 * The content is one JSON object (e.g. the pid and the bound metrics
 * address, which tests need when they asked for port 0).
 */
import { randomBytes } from 'node:crypto';
import { rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface ReadyFile {
  readonly path: string;
  /** Removes the file; a file already gone is fine. */
  remove(): Promise<void>;
}

async function unlinkIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Writes `content` as JSON to `path` atomically and returns the handle that removes it. */
export async function readyFile(path: string, content: Readonly<Record<string, unknown>> = {}): Promise<ReadyFile> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const text = JSON.stringify({ pid: process.pid, ...content }) + '\n';
  try {
    await writeFile(tmp, text, { flag: 'wx', mode: 0o644 });
    await rename(tmp, path);
  } catch (err) {
    await unlinkIfPresent(tmp);
    throw err;
  }
  return { path, remove: () => unlinkIfPresent(path) };
}
