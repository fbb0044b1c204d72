/**
 * The udp transport's shared key (--key-file): raw bytes, or hex text, at
 * least 16 bytes of key. Every node must have the same one.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors.js';

const FIELD = 'keyFile (--key-file)';

export async function readKeyFile(path: string): Promise<Uint8Array> {
  let raw: Buffer;
  try {
    raw = await readFile(path);
  } catch (err) {
    throw new ConfigError([{ field: FIELD, value: path, expected: `a readable file (${(err as Error).message})` }]);
  }
  return parseKey(raw, path);
}

/** Hex text (an even number of hex digits, surrounding blanks ignored) is decoded; anything else is the key itself. */
export function parseKey(raw: Uint8Array, path = '(key)'): Uint8Array {
  const text = Buffer.from(raw).toString('utf8').trim();
  const key = /^[0-9a-fA-F]+$/.test(text) && text.length % 2 === 0 ? Buffer.from(text, 'hex') : Buffer.from(raw);
  if (key.byteLength < 16) throw new ConfigError([{ field: FIELD, value: path, expected: 'at least 16 bytes of key (raw, or hex text)' }]);
  return new Uint8Array(key);
}
