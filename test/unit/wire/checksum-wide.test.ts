/**
 * onesSum() reads ranges of 128 bytes or more as 32-bit words (src/wire/checksum.ts):
 * whatever the alignment of the view, the start and the end, and whatever the
 * initial partial sum, the folded result must equal the byte-by-byte sum.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { foldSum, internetChecksum, onesSum } from '../../../src/wire/checksum.js';
import { ETH_HEADER, FRAG_NEEDED_UDP, PACKET_TOO_BIG_UDP } from './fixtures/packets.js';

/** Oracle: 16-bit big-endian words one at a time, odd byte padded on the right. */
function byteSum(b: Uint8Array, start: number, end: number, initial: number): number {
  let sum = initial;
  for (let i = start; i < end; i += 2) sum += (b[i]! << 8) | (i + 1 < end ? b[i + 1]! : 0);
  return sum;
}

test('the word path folds to the byte path at every alignment, start, end and initial sum', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 700 }),
      fc.nat(7),
      fc.nat(40),
      fc.nat(40),
      fc.nat(0x3ffff),
      (data, shift, cutStart, cutEnd, initial) => {
        // Copy into a bigger buffer at `shift`, so the view's byteOffset varies too.
        const outer = new Uint8Array(data.length + 16);
        outer.set(data, shift);
        const view = outer.subarray(shift, shift + data.length);
        const start = Math.min(cutStart, view.length);
        const end = Math.max(start, view.length - cutEnd);
        assert.equal(foldSum(onesSum(view, start, end, initial)), foldSum(byteSum(view, start, end, initial)));
      },
    ),
    { numRuns: 3000 },
  );
});

test('all-0xff and all-zero ranges keep the ones-complement identities on the word path', () => {
  for (const shift of [0, 1, 2, 3]) {
    const outer = new Uint8Array(1024 + shift);
    const zeros = outer.subarray(shift, shift + 1024);
    assert.equal(foldSum(onesSum(zeros)), 0);
    assert.equal(foldSum(onesSum(zeros, 0, zeros.length, 0x1234)), 0x1234);
    const ones = outer.fill(0xff).subarray(shift, shift + 1024);
    assert.equal(foldSum(onesSum(ones)), 0xffff);
  }
});

test('the captured too-big packets still verify when they sit at every offset of a larger buffer', () => {
  for (const frame of [FRAG_NEEDED_UDP, PACKET_TOO_BIG_UDP]) {
    const ip = frame.subarray(ETH_HEADER);
    for (let shift = 0; shift < 8; shift++) {
      const outer = new Uint8Array(ip.length + 8);
      outer.set(ip, shift);
      const view = outer.subarray(shift, shift + ip.length);
      const icmp = ip[0]! >> 4 === 4 ? 20 : 40;
      assert.equal(internetChecksum(view, 0, icmp, view.length), internetChecksum(ip, 0, icmp, ip.length));
      assert.equal(foldSum(onesSum(view, icmp, view.length)), foldSum(byteSum(ip, icmp, ip.length, 0)));
    }
  }
});

test('a range running past the view never sums the neighbouring bytes of the shared buffer', () => {
  const outer = new Uint8Array(1024).fill(0xab);
  const view = outer.subarray(64, 64 + 256);
  view.fill(0);
  // end beyond view.length: the bytes after the view (0xab) must not be read as data.
  assert.equal(foldSum(onesSum(view, 0, 512)), 0);
  assert.equal(foldSum(onesSum(view, 0, view.length)), 0);
});
