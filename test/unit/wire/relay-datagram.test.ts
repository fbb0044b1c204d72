import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeRelayDatagram,
  encodeRelayDatagram,
  RELAY_DATAGRAM_REJECT,
  writeRelayHeader,
  relayHeaderLength,
} from '../../../src/wire/relay-datagram.js';

const packet = Uint8Array.of(0x45, 0, 0, 0x1c, 1, 2, 3, 4);

test('a datagram without HMAC encodes to the documented bytes', () => {
  const d = encodeRelayDatagram(packet, 0x65432100);
  assert.deepEqual(
    [...d],
    [
      0x50, 0x47, // 'PG'
      0x01, // version 1
      0x00, // flags: no HMAC
      0x65, 0x43, 0x21, 0x00, // time, big-endian
      ...packet,
    ],
  );
  const r = decodeRelayDatagram(d, false);
  assert.ok(r.ok);
  assert.equal(r.value.time, 0x65432100);
  assert.deepEqual([...r.value.packet], [...packet]);
  assert.equal(r.value.hmac, undefined);
});

test('a datagram with HMAC carries it between header and packet; decoding at an offset works', () => {
  const mac = new Uint8Array(32).fill(0xab);
  const d = encodeRelayDatagram(packet, 7, mac);
  assert.equal(d[3], 0x01);
  const big = new Uint8Array(d.byteLength + 11);
  big.set(d, 5);
  const r = decodeRelayDatagram(big.subarray(5, 5 + d.byteLength), true);
  assert.ok(r.ok);
  assert.deepEqual([...r.value.hmac!], [...mac]);
  assert.deepEqual([...r.value.header], [...d.subarray(0, 8)]);
  assert.deepEqual([...r.value.packet], [...packet]);
});

test('each malformed datagram is refused with its reason', () => {
  const plain = encodeRelayDatagram(packet, 1);
  const signed = encodeRelayDatagram(packet, 1, new Uint8Array(32));
  const cases: [Uint8Array, boolean, string][] = [
    [plain.subarray(0, 7), false, 'short_datagram'],
    [Uint8Array.of(0x50, 0x48, 1, 0, 0, 0, 0, 0), false, 'bad_magic'],
    [Uint8Array.of(0x50, 0x47, 2, 0, 0, 0, 0, 0), false, 'bad_version'],
    [plain, true, 'missing_hmac'],
    [signed, false, 'unexpected_hmac'],
    [signed.subarray(0, 20), true, 'short_datagram'],
  ];
  for (const [bytes, expect, reason] of cases) {
    const r = decodeRelayDatagram(bytes, expect);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.reason, reason);
  }
});

test('writeRelayHeader leaves room for the HMAC and returns the packet offset', () => {
  const out = new Uint8Array(64);
  assert.equal(writeRelayHeader(out, 3, 1, true), 3 + relayHeaderLength(true));
  assert.equal(writeRelayHeader(out, 0, 1, false), 8);
});

test('property: decoding arbitrary bytes never throws and returns a known reason or a value', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 128 }), fc.boolean(), (bytes, expect) => {
      const r = decodeRelayDatagram(bytes, expect);
      if (!r.ok) assert.ok((RELAY_DATAGRAM_REJECT as readonly string[]).includes(r.reason));
    }),
    { numRuns: 2000 },
  );
});

test('property: encode → decode returns the same packet and time', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 256 }), fc.integer({ min: 0, max: 0xffffffff }), fc.option(fc.uint8Array({ minLength: 32, maxLength: 32 }), { nil: undefined }), (p, t, mac) => {
      const r = decodeRelayDatagram(encodeRelayDatagram(p, t, mac), mac !== undefined);
      assert.ok(r.ok);
      assert.equal(r.value.time, t);
      assert.deepEqual([...r.value.packet], [...p]);
    }),
    { numRuns: 500 },
  );
});
