import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodeError } from '../../../src/errors.js';
import {
  addressEqual,
  addressKey,
  formatAddress,
  formatIPv4,
  formatIPv6,
  parseAddress,
  parseIPv4,
  parseIPv6,
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
