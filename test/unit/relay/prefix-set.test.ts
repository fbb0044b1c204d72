import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConfigError } from '../../../src/errors.js';
import { parseCidr, parseCidrs, PrefixSet } from '../../../src/relay/prefix-set.js';
import { formatPrefix as formatCidr, maskAddress, type Prefix } from '../../../src/wire/ip-prefix.js';
import { parseAddress } from '../../../src/wire/ip-address.js';

const ip = parseAddress;
function set(...texts: string[]): PrefixSet {
  return new PrefixSet(parseCidrs(texts, 'test'));
}

test('parseCidr: prefixes, bare addresses, host bits cleared', () => {
  const cases: [string, string | undefined][] = [
    ['192.0.2.0/24', '192.0.2.0/24'],
    ['192.0.2.77/24', '192.0.2.0/24'], // like Go's net.ParseCIDR
    ['198.51.100.9', '198.51.100.9/32'],
    ['203.0.113.128/25', '203.0.113.128/25'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    [' 192.0.2.1/32 ', '192.0.2.1/32'],
    ['2001:db8::/32', '2001:db8::/32'],
    ['2001:db8:1::fe', '2001:db8:1::fe/128'],
    ['2001:db8:ffff::1/33', '2001:db8:8000::/33'],
    ['::/0', '::/0'],
    ['192.0.2.0/33', undefined],
    ['2001:db8::/129', undefined],
    ['192.0.2.0/024', undefined],
    ['192.0.2.0/', undefined],
    ['192.0.2/24', undefined],
    ['192.0.2.0/24/1', undefined],
    ['', undefined],
    ['example.com/24', undefined],
  ];
  for (const [text, want] of cases) {
    const c = parseCidr(text);
    assert.equal(c === undefined ? undefined : formatCidr(c), want, text);
  }
});

test('parseCidrs lists every bad entry in one ConfigError', () => {
  assert.throws(
    () => parseCidrs(['192.0.2.0/24', 'nope', '2001:db8::/200'], '--vip-networks'),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.deepEqual(e.problems.map((p) => [p.field, p.value]), [['--vip-networks[1]', 'nope'], ['--vip-networks[2]', '2001:db8::/200']]);
      return true;
    },
  );
});

test('IPv4 boundaries: /24, /23, /20, /32, /0', () => {
  const s = set('192.0.2.0/24', '198.51.100.0/23', '203.0.112.0/20', '203.0.113.5/32');
  const table: [string, boolean][] = [
    ['192.0.2.0', true],
    ['192.0.2.255', true],
    ['192.0.1.255', false],
    ['192.0.3.0', false],
    ['198.51.100.0', true],
    ['198.51.101.255', true],
    ['198.51.102.0', false],
    ['198.51.99.255', false],
    ['203.0.112.0', true],
    ['203.0.127.255', true],
    ['203.0.128.0', false],
    ['203.0.111.255', false],
  ];
  for (const [a, want] of table) assert.equal(s.has(ip(a)), want, a);
  const host = set('203.0.113.5/32');
  assert.equal(host.has(ip('203.0.113.5')), true);
  assert.equal(host.has(ip('203.0.113.4')), false);
  assert.equal(host.has(ip('203.0.113.6')), false);
  const all = set('0.0.0.0/0');
  assert.equal(all.has(ip('198.51.100.1')), true);
  assert.equal(all.has(ip('2001:db8::1')), false); // families never mix
});

test('IPv6 boundaries: /32, /33, /64, /127, /128, ::/0', () => {
  const s = set('2001:db8::/33', '2001:db8:ffff:1::/64', '2001:db8:ffff:2::/127', '2001:db8:ffff:3::9/128');
  const table: [string, boolean][] = [
    ['2001:db8::', true],
    ['2001:db8:7fff:ffff:ffff:ffff:ffff:ffff', true],
    ['2001:db8:8000::', false],
    ['2001:db7:ffff:ffff:ffff:ffff:ffff:ffff', false],
    ['2001:db8:ffff:1::', true],
    ['2001:db8:ffff:1:ffff:ffff:ffff:ffff', true],
    ['2001:db8:ffff:0:ffff:ffff:ffff:ffff', false],
    ['2001:db8:ffff:2::', true],
    ['2001:db8:ffff:2::1', true],
    ['2001:db8:ffff:2::2', false],
    ['2001:db8:ffff:3::9', true],
    ['2001:db8:ffff:3::8', false],
    ['2001:db8:ffff:3::a', false],
  ];
  for (const [a, want] of table) assert.equal(s.has(ip(a)), want, a);
  assert.equal(set('::/0').has(ip('2001:db8::1')), true);
  assert.equal(set('::/0').has(ip('192.0.2.1')), false);
});

test('an empty set matches nothing; only 4- and 16-byte addresses can match', () => {
  assert.equal(new PrefixSet().has(ip('192.0.2.1')), false);
  const s = set('0.0.0.0/0', '::/0');
  assert.equal(s.has(new Uint8Array(0)), false);
  assert.equal(s.has(new Uint8Array(5)), false);
  assert.equal(s.has(new Uint8Array(15)), false);
});

test('lookups honour the view: an address inside a larger buffer at an offset', () => {
  const big = new Uint8Array(32).fill(0xee);
  big.set(ip('192.0.2.9'), 7);
  assert.equal(set('192.0.2.0/24').has(big.subarray(7, 11)), true);
});

test('ofAddresses builds host routes; a malformed prefix is refused', () => {
  const s = PrefixSet.ofAddresses([ip('192.0.2.1'), ip('2001:db8::1')]);
  assert.equal(s.size, 2);
  assert.equal(s.has(ip('192.0.2.1')), true);
  assert.equal(s.has(ip('192.0.2.2')), false);
  assert.throws(() => new PrefixSet([{ address: new Uint8Array(5), prefixLength: 8 }]), ConfigError);
  assert.throws(() => new PrefixSet([{ address: ip('192.0.2.0'), prefixLength: 33 }]), ConfigError);
});

/** The obvious definition: the first `len` bits are equal. */
function naiveContains(c: Prefix, a: Uint8Array): boolean {
  if (a.length !== c.address.length) return false;
  for (let bit = 0; bit < c.prefixLength; bit++) {
    const i = bit >> 3;
    const m = 0x80 >> (bit & 7);
    if ((a[i]! & m) !== (c.address[i]! & m)) return false;
  }
  return true;
}

test('property: has() agrees with bit-by-bit prefix comparison', () => {
  const cidrArb = fc.oneof(
    fc.tuple(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 32 })),
    fc.tuple(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 128 })),
  ).map(([a, len]) => ({ address: maskAddress(a, len), prefixLength: len }));
  fc.assert(
    fc.property(
      fc.array(cidrArb, { maxLength: 12 }),
      fc.array(fc.tuple(fc.nat(), fc.nat(128), fc.uint8Array({ minLength: 16, maxLength: 16 })), { maxLength: 30 }),
      (cidrs, probes) => {
        const s = new PrefixSet(cidrs);
        for (const [pick, keep, noise] of probes) {
          // Probe near a prefix: its address with the bits after `keep` randomised.
          const base = cidrs.length > 0 ? cidrs[pick % cidrs.length]!.address : noise.subarray(0, 4);
          const a = Uint8Array.from(base);
          for (let bit = keep; bit < a.length * 8; bit++) {
            const i = bit >> 3;
            const m = 0x80 >> (bit & 7);
            a[i] = (noise[i]! & m) !== 0 ? a[i]! | m : a[i]! & ~m;
          }
          if (s.has(a) !== cidrs.some((c) => naiveContains(c, a))) return false;
        }
        return true;
      },
    ),
    { numRuns: 300 },
  );
});
