/**
 * Byte helpers for tests: golden vectors written as commented hex, and the
 * "decode again at a non-zero offset" check every codec test makes.
 */

/**
 * Bytes from commented hex. On each line, `//` or `#` starts a comment and a
 * leading tcpdump offset (`0x0010:`) is dropped; the rest must be pairs of
 * hex digits, whitespace anywhere.
 */
export function hex(text: string): Uint8Array {
  const digits = text
    .split('\n')
    .map((line) => line.replace(/(\/\/|#).*$/, '').replace(/^\s*0x[0-9a-f]+:/i, ''))
    .join('')
    .replace(/\s+/g, '');
  if (!/^([0-9a-f]{2})*$/i.test(digits)) throw new Error(`not hex: ${digits.slice(0, 40)}...`);
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * `bytes` copied into a larger buffer at `offset` (filler 0xee around it), as
 * a view: a decoder that ignores byteOffset, or reads past the end, shows up.
 */
export function atOffset(bytes: Uint8Array, offset = 7): Uint8Array {
  const big = new Uint8Array(bytes.byteLength + offset + 13).fill(0xee);
  big.set(bytes, offset);
  return big.subarray(offset, offset + bytes.byteLength);
}
