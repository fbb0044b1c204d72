/**
 * The hash that picks a set in the relay's fixed-size tables (rate-limiter.ts,
 * dedup.ts): 32-bit words in, 32 bits out, keyed with a secret drawn at
 * start-up. Every word goes through a multiply-xorshift round with a
 * key-derived odd multiplier; MurmurHash3's fmix32 finishes. It is not a
 * cryptographic PRF, but the key never leaves the process and the tables
 * reveal nothing observable about it, so an attacker cannot aim many
 * addresses or flows at one set; without the key a fixed hash would let one
 * precompute them. No allocation; a few nanoseconds per word.
 */
import { getRandomValues } from 'node:crypto';

/** Words in a hash key. */
export const HASH_KEY_WORDS = 5;

/** A fresh random key. */
export function randomHashKey(): Uint32Array {
  return getRandomValues(new Uint32Array(HASH_KEY_WORDS));
}

/** Hash of words[0, n) under `key` (HASH_KEY_WORDS words). */
export function hashWords(key: Uint32Array, words: Int32Array, n: number): number {
  let h = key[0]! ^ n;
  for (let i = 0; i < n; i++) {
    h = Math.imul(h ^ words[i]!, key[1 + (i & 3)]! | 1);
    h ^= h >>> 15;
  }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
