import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatAddress, parseAddress } from '../../../src/wire/ip-address.js';
import { comparePrefixes, formatPrefix, hostPrefix, maskAddress, parsePrefix, prefixContains, scanPrefixLength, type Prefix, type PrefixRules } from '../../../src/wire/ip-prefix.js';

const text = (p: Prefix | undefined) => (p === undefined ? undefined : formatPrefix(p));

test('parsePrefix is strict by default: no bare address, no host bits, no zero-padded length', () => {
  const cases: [string, string | undefined][] = [
    ['192.0.2.0/24', '192.0.2.0/24'],
    ['2001:db8::/32', '2001:db8::/32'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['::/0', '::/0'],
    ['192.0.2.1/32', '192.0.2.1/32'],
    ['192.0.2.7/24', undefined],
    ['2001:db8::1/64', undefined],
    ['192.0.2.0', undefined],
    ['192.0.2.0/024', undefined],
    ['192.0.2.0/33', undefined],
    ['2001:db8::/129', undefined],
    ['192.0.2.0/', undefined],
    ['192.0.2.0/24/1', undefined],
    [' 192.0.2.0/24', undefined],
    ['2001:db8::%eth0/64', undefined],
    ['', undefined],
  ];
  for (const [input, want] of cases) assert.equal(text(parsePrefix(input)), want, input);
});

test('parsePrefix rules: bare addresses as hosts, host bits cleared, zero-padded lengths', () => {
  const cases: [string, PrefixRules, string | undefined][] = [
    ['198.51.100.9', { bare: 'host' }, '198.51.100.9/32'],
    ['2001:db8:1::fe', { bare: 'host' }, '2001:db8:1::fe/128'],
    ['192.0.2.7/24', { hostBits: 'clear' }, '192.0.2.0/24'],
    ['2001:db8:ffff::1/33', { hostBits: 'clear' }, '2001:db8:8000::/33'],
    ['192.0.2.77/0', { hostBits: 'clear' }, '0.0.0.0/0'],
    ['192.0.2.0/024', { lengthZeros: 'allow' }, '192.0.2.0/24'],
    ['192.0.2.0/00', { lengthZeros: 'allow' }, undefined], // host bits under /0
    ['192.0.2.0/0024', { lengthZeros: 'allow' }, undefined], // at most 3 digits
    ['192.0.2.0', { hostBits: 'clear' }, undefined],
  ];
  for (const [input, rules, want] of cases) assert.equal(text(parsePrefix(input, rules)), want, `${input} ${JSON.stringify(rules)}`);
});

test('scanPrefixLength reads 1-3 digits in its span', () => {
  assert.equal(scanPrefixLength('/24', 1, 3), 24);
  assert.equal(scanPrefixLength('/0', 1, 2), 0);
  assert.equal(scanPrefixLength('/024', 1, 4), -1);
  assert.equal(scanPrefixLength('/024', 1, 4, 'allow'), 24);
  assert.equal(scanPrefixLength('/', 1, 1), -1);
  assert.equal(scanPrefixLength('/2a', 1, 3), -1);
});

test('hostPrefix, prefixContains and comparePrefixes', () => {
  const p = parsePrefix('192.0.2.128/25')!;
  assert.equal(prefixContains(p, parseAddress('192.0.2.200')), true);
  assert.equal(prefixContains(p, parseAddress('192.0.2.127')), false);
  assert.equal(prefixContains(p, parseAddress('::ffff:192.0.2.200')), false); // another family
  assert.equal(prefixContains(parsePrefix('::/0')!, parseAddress('2001:db8::1')), true);
  assert.equal(formatPrefix(hostPrefix(parseAddress('2001:db8::1'))), '2001:db8::1/128');
  const sorted = ['2001:db8::/32', '192.0.2.0/25', '192.0.2.0/24', '10.0.0.0/8'].map((s) => parsePrefix(s)!).sort(comparePrefixes).map(formatPrefix);
  assert.deepEqual(sorted, ['10.0.0.0/8', '192.0.2.0/24', '192.0.2.0/25', '2001:db8::/32']);
});

/** The obvious definition: the first `len` bits are equal. */
function naiveContains(p: Prefix, a: Uint8Array): boolean {
  if (a.length !== p.address.length) return false;
  for (let bit = 0; bit < p.prefixLength; bit++) {
    const m = 0x80 >> (bit & 7);
    if ((a[bit >> 3]! & m) !== (p.address[bit >> 3]! & m)) return false;
  }
  return true;
}

test('property: prefixContains agrees with bit-by-bit comparison, and text round-trips', () => {
  const arb = fc.oneof(
    fc.tuple(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 32 }), fc.uint8Array({ minLength: 4, maxLength: 4 })),
    fc.tuple(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 128 }), fc.uint8Array({ minLength: 16, maxLength: 16 })),
  );
  fc.assert(
    fc.property(arb, ([a, len, probe]) => {
      const p: Prefix = { address: maskAddress(a, len), prefixLength: len };
      assert.equal(prefixContains(p, probe), naiveContains(p, probe));
      assert.equal(prefixContains(p, a), true);
      const back = parsePrefix(formatPrefix(p));
      assert.ok(back);
      assert.deepEqual(back, p);
      const cleared = parsePrefix(`${formatAddress(a)}/${len}`, { hostBits: 'clear' });
      assert.deepEqual(cleared, p);
    }),
    { numRuns: 1000 },
  );
});
