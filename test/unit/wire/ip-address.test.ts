import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { DecodeError } from '../../../src/errors.js';
import {
  addressEqual,
  addressFamily,
  addressKey,
  addressScope,
  compareAddresses,
  formatAddress,
  formatIPv4,
  formatIPv6,
  formatIPv6Groups,
  isIPv4Mapped,
  parseAddress,
  parseIPv4,
  parseIPv6,
  scanIPv4,
  tryParseAddress,
  unmapIPv4,
} from '../../../src/wire/ip-address.js';
import { ETH_HEADER, PACKET_TOO_BIG_PING, FRAG_NEEDED_PING, embed } from './fixtures/packets.js';

const v6 = (...groups: number[]) => {
  const b = new Uint8Array(16);
  groups.forEach((g, i) => {
    b[2 * i] = g >> 8;
    b[2 * i + 1] = g & 0xff;
  });
  return b;
};

test('IPv4 formats as dotted decimal and parses back', () => {
  assert.equal(formatIPv4(Uint8Array.of(192, 0, 2, 1)), '192.0.2.1');
  assert.deepEqual(parseIPv4('203.0.113.255'), Uint8Array.of(203, 0, 113, 255));
  assert.deepEqual(parseIPv4('0.0.0.0'), new Uint8Array(4));
});

test('IPv4 parsing is strict like inet_pton: no leading zeros, four decimal octets', () => {
  for (const bad of ['192.0.2', '192.0.2.1.5', '192.0.2.256', '192.0.02.1', '192.0.2.-1', '192.0.2.1 ', '', 'a.b.c.d', '1e2.0.0.1', '0x1.0.0.1']) {
    assert.throws(() => parseIPv4(bad), DecodeError, bad);
  }
});

test('IPv6 formatting follows RFC 5952', () => {
  const cases: [Uint8Array, string][] = [
    [v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), '2001:db8::1'], // §4.2.1 longest run compressed, §4.1 no leading zeros
    [v6(0x2001, 0xdb8, 0, 1, 1, 1, 1, 1), '2001:db8:0:1:1:1:1:1'], // §4.2.2 a single zero group is not compressed
    [v6(0x2001, 0xdb8, 0, 0, 1, 0, 0, 1), '2001:db8::1:0:0:1'], // §4.2.3 tie: the first run
    [v6(0x2001, 0, 0, 1, 0, 0, 0, 1), '2001:0:0:1::1'], // longest run wins over the earlier one
    [v6(0x2001, 0xdb8, 0xaaaa, 0xbbbb, 0xcccc, 0xdddd, 0xeeee, 0xaaaa), '2001:db8:aaaa:bbbb:cccc:dddd:eeee:aaaa'], // §4.3 lowercase
    [v6(), '::'],
    [v6(0, 0, 0, 0, 0, 0, 0, 1), '::1'],
    [v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), '2001:db8::'],
    [v6(0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201), '::ffff:192.0.2.1'], // §5 IPv4-mapped
  ];
  for (const [bytes, text] of cases) {
    assert.equal(formatIPv6(bytes), text);
    assert.deepEqual(parseIPv6(text), bytes, text);
  }
});

test('IPv6 parsing accepts the RFC 4291 §2.2 forms and rejects the rest', () => {
  assert.deepEqual(parseIPv6('2001:DB8:0:0:0:0:0:1'), v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
  assert.deepEqual(parseIPv6('2001:0db8::0001'), v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
  assert.deepEqual(parseIPv6('::ffff:198.51.100.2'), v6(0, 0, 0, 0, 0, 0xffff, 0xc633, 0x6402));
  assert.deepEqual(parseIPv6('1::2:3:4:5:6:7'), v6(1, 0, 2, 3, 4, 5, 6, 7));
  for (const bad of [
    '',
    ':',
    ':::',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8:9',
    '1::2::3',
    '12345::',
    'g::1',
    '1:2:3:4:5:6:7:8::',
    '2001:db8::1%eth0',
    '2001:db8::/32',
    '1.2.3.4::',
    '::1.2.3',
    ':1:2:3:4:5:6:7',
  ]) {
    assert.throws(() => parseIPv6(bad), DecodeError, bad);
  }
});

test('formatAddress picks the family by length, at any offset', () => {
  const ip4 = embed(FRAG_NEEDED_PING.subarray(ETH_HEADER));
  assert.equal(formatAddress(ip4.subarray(12, 16)), '192.0.2.254');
  const ip6 = embed(PACKET_TOO_BIG_PING.subarray(ETH_HEADER));
  assert.equal(formatAddress(ip6.subarray(8, 24)), '2001:db8:1::fe');
  assert.equal(formatAddress(ip6.subarray(24, 40)), '2001:db8:1::1');
  assert.throws(() => formatAddress(new Uint8Array(5)), DecodeError);
  assert.throws(() => formatIPv4(new Uint8Array(16)), DecodeError);
  assert.throws(() => formatIPv6(new Uint8Array(4)), DecodeError);
});

test('parseAddress dispatches on the form', () => {
  assert.equal(parseAddress('192.0.2.7').length, 4);
  assert.equal(parseAddress('2001:db8::7').length, 16);
});

test('addressKey is unambiguous and distinguishes the families', () => {
  assert.equal(addressKey(parseIPv4('192.0.2.1')), '192.0.2.1');
  assert.equal(addressKey(parseIPv6('2001:db8::1')), '20010db8000000000000000000000001');
  assert.notEqual(addressKey(parseIPv6('::ffff:192.0.2.1')), addressKey(parseIPv4('192.0.2.1')));
  assert.equal(addressEqual(parseIPv6('2001:db8::1'), parseIPv6('2001:db8:0::1')), true);
  assert.equal(addressEqual(parseIPv4('192.0.2.1'), parseIPv4('192.0.2.2')), false);
});

test('tryParseAddress never throws and reads only the given span', () => {
  assert.deepEqual(tryParseAddress('192.0.2.7'), Uint8Array.of(192, 0, 2, 7));
  assert.deepEqual(tryParseAddress('x2001:db8::7/64', 1, 12), parseIPv6('2001:db8::7'));
  assert.deepEqual(tryParseAddress('192.0.2.7/24', 0, 9), Uint8Array.of(192, 0, 2, 7));
  for (const bad of ['', '192.0.2.1 ', '192.0.02.1', '2001:db8::1%eth0', '::01.2.3.4', '1::2::3', '2001:db8::/32']) {
    assert.equal(tryParseAddress(bad), undefined, bad);
  }
});

test('scanIPv4 gives the 32-bit value or -1', () => {
  assert.equal(scanIPv4('255.255.255.255'), 0xffffffff);
  assert.equal(scanIPv4('192.0.2.1'), 0xc0000201);
  assert.equal(scanIPv4('a192.0.2.1', 1), 0xc0000201);
  assert.equal(scanIPv4('1.2.3'), -1);
  assert.equal(scanIPv4('1.2.3.04'), -1);
});

test('formatIPv6Groups writes IPv4-mapped addresses in hex, everything else as formatIPv6', () => {
  assert.equal(formatIPv6Groups(parseIPv6('::ffff:192.0.2.1')), '::ffff:c000:201');
  assert.equal(formatIPv6Groups(parseIPv6('2001:db8::1')), '2001:db8::1');
});

test('IPv4-mapped addresses fold to the IPv4 address they name', () => {
  assert.equal(isIPv4Mapped(parseIPv6('::ffff:192.0.2.1')), true);
  assert.equal(isIPv4Mapped(parseIPv6('::192.0.2.1')), false); // IPv4-compatible (RFC 4291 §2.5.5.1), not mapped
  assert.equal(isIPv4Mapped(parseIPv6('64:ff9b::192.0.2.1')), false);
  assert.deepEqual(unmapIPv4(parseIPv6('::ffff:192.0.2.1')), Uint8Array.of(192, 0, 2, 1));
  const v6 = parseIPv6('2001:db8::1');
  assert.equal(unmapIPv4(v6), v6);
});

test('addressFamily and compareAddresses: IPv4 first, then by bytes', () => {
  assert.equal(addressFamily(parseIPv4('192.0.2.1')), 4);
  assert.equal(addressFamily(parseIPv6('::1')), 6);
  assert.equal(addressFamily(new Uint8Array(5)), undefined);
  const sorted = ['2001:db8::1', '203.0.113.1', '::ffff:0.0.0.1', '192.0.2.10', '192.0.2.9'].map(parseAddress).sort(compareAddresses).map(formatAddress);
  assert.deepEqual(sorted, ['192.0.2.9', '192.0.2.10', '203.0.113.1', '::ffff:0.0.0.1', '2001:db8::1']);
});

test('addressScope names the ranges that can never be a unicast peer or gateway', () => {
  const cases: [string, string][] = [
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'], // 0.0.0.0/8, "this network"
    ['255.255.255.255', 'broadcast'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.255', 'multicast'],
    ['240.0.0.1', 'unicast'],
    ['127.0.0.1', 'loopback'],
    ['169.254.1.1', 'linkLocal'],
    ['192.0.2.1', 'unicast'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['::2', 'unicast'],
    ['fe80::1', 'linkLocal'],
    ['febf::1', 'linkLocal'],
    ['fec0::1', 'unicast'],
    ['ff02::1', 'multicast'],
    ['::ffff:192.0.2.1', 'ipv4Mapped'],
    ['2001:db8::1', 'unicast'],
  ];
  for (const [text, want] of cases) assert.equal(addressScope(parseAddress(text)), want, text);
});

const NAMED_SCOPES = new Set(['unspecified', 'broadcast', 'multicast', 'loopback', 'linkLocal', 'ipv4Mapped']);

test('property: addressScope agrees with ipaddr.js range() on the ranges it names', () => {
  // Biased towards the interesting first bytes so every range is hit.
  const v4 = fc.tuple(fc.constantFrom(0, 127, 169, 224, 239, 255, 192), fc.uint8Array({ minLength: 3, maxLength: 3 })).map(([a, r]) => Uint8Array.of(a, ...r));
  const v6 = fc
    .tuple(fc.constantFrom('zero', 'fe80', 'ff', 'mapped', 'any'), fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.nat(16))
    .map(([kind, r, zeros]) => {
      const b = Uint8Array.from(r);
      if (kind === 'zero') b.fill(0, 0, zeros);
      if (kind === 'fe80') [b[0], b[1]] = [0xfe, 0x80 | (b[1]! & 0x3f)];
      if (kind === 'ff') b[0] = 0xff;
      if (kind === 'mapped') b.fill(0, 0, 10).fill(0xff, 10, 12);
      return b;
    });
  fc.assert(
    fc.property(fc.oneof(v4, v6, fc.constant(new Uint8Array(16)), fc.constant(parseIPv6('::1'))), (bytes) => {
      const theirs = ipaddr.fromByteArray([...bytes]).range();
      assert.equal(addressScope(bytes), NAMED_SCOPES.has(theirs) ? theirs : 'unicast', formatAddress(bytes));
    }),
    { numRuns: 3000 },
  );
});
