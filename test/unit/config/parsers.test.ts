import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { boolean, duration, integer, list, listenAddress, markMask, oneOf, text, u32, DNS1123_LABEL } from '../../../src/config/parsers.js';

function ok<T>(schema: { safeParse(v: unknown): { success: boolean; data?: T } }, v: unknown): T {
  const r = schema.safeParse(v);
  assert.ok(r.success, `expected ${JSON.stringify(v)} to parse`);
  return r.data as T;
}
function bad(schema: { safeParse(v: unknown): { success: boolean; error?: { issues: { message: string }[] } } }, v: unknown): string {
  const r = schema.safeParse(v);
  assert.equal(r.success, false, `expected ${JSON.stringify(v)} to be refused`);
  return r.error?.issues[0]?.message ?? '';
}

test('integer: decimal strings and numbers in range, nothing else', () => {
  const s = integer({ min: 1, max: 100 });
  const cases: [unknown, number | null][] = [
    ['1', 1], ['100', 100], [' 42 ', 42], [7, 7],
    ['0', null], ['101', null], ['-1', null], ['1.5', null], [1.5, null], ['0x10', null], ['', null],
    ['1e2', null], ['12abc', null], [true, null], [null, null], [[], null], [Number.NaN, null],
  ];
  for (const [input, want] of cases) {
    if (want === null) assert.match(bad(s, input), /an integer in 1\.\.100/);
    else assert.equal(ok(s, input), want);
  }
});

test('integer with hex and refused values names the refusals', () => {
  const s = integer({ min: 0, max: 300, hex: true, refuse: new Map([[254, 'main']]) });
  assert.equal(ok(s, '0x14'), 20);
  assert.equal(ok(s, '0XfF'), 255);
  assert.match(bad(s, '254'), /not 254 \(main\)/);
  assert.match(bad(s, '0xfe'), /decimal or 0x hex integer/);
  assert.equal(bad(s, '0x'), bad(s, '0xg'));
});

test('u32: decimal or hex up to 2^32-1', () => {
  const s = u32();
  assert.equal(ok(s, '4294967295'), 4294967295);
  assert.equal(ok(s, '0xffffffff'), 4294967295);
  bad(s, '4294967296');
  bad(s, '0x100000000');
  bad(s, '0x1000000000000000000');
});

test('markMask: decimal fwmark is valid, hex too, masks optional', () => {
  const s = markMask();
  const cases: [unknown, { value: number; mask?: number } | null][] = [
    ['20', { value: 20 }],
    ['0x14', { value: 20 }],
    [20, { value: 20 }],
    ['0x14/0xff', { value: 20, mask: 255 }],
    ['20/255', { value: 20, mask: 255 }],
    ['0/0xff', { value: 0, mask: 255 }],
    ['0x100/0xf00', { value: 256, mask: 0xf00 }],
    ['4294967295', { value: 4294967295 }],
    ['0', null], // no mark match at all
    [0, null],
    ['0x1ff/0xff', null], // value bits outside the mask
    ['20/', null],
    ['/20', null],
    ['20/30/40', null],
    ['4294967296', null],
    ['0x14/0x100000000', null],
    ['mark', null],
    [-1, null],
    [1.5, null],
  ];
  for (const [input, want] of cases) {
    if (want === null) assert.match(bad(s, input), /VALUE\[\/MASK\]/, `input ${JSON.stringify(input)}`);
    else assert.deepEqual(ok(s, input), want, `input ${JSON.stringify(input)}`);
  }
});

test('duration: units, combinations, whole milliseconds, ranges', () => {
  const s = duration({ minMs: 0, maxMs: 86_400_000 });
  const cases: [unknown, number | null][] = [
    ['500ms', 500], ['5s', 5000], ['1m', 60_000], ['1h', 3_600_000], ['1m30s', 90_000], ['1.5s', 1500], ['1.1s', 1100],
    ['2h0m1s', 7_201_000], ['0', 0], [0, 0], ['0s', 0],
    ['5', null], [5, null], ['5 s', null], ['s', null], ['1.5ms', null], ['-1s', null], ['25h', null], ['1d', null], ['', null], [true, null],
  ];
  for (const [input, want] of cases) {
    if (want === null) bad(s, input);
    else assert.equal(ok(s, input), want, `input ${JSON.stringify(input)}`);
  }
});

test('duration: bare milliseconds only when asked, zero as off', () => {
  const s = duration({ minMs: 1000, maxMs: 60_000, zeroAllowed: true, bareMs: true });
  assert.equal(ok(s, '5000'), 5000);
  assert.equal(ok(s, 5000), 5000);
  assert.equal(ok(s, '0'), 0);
  assert.match(bad(s, '500'), /or 0 to disable/);
  assert.match(bad(s, '500ms'), /1s\.\.1m/);
});

test('boolean: the usual spellings', () => {
  const s = boolean();
  for (const t of ['true', 'TRUE', '1', 'yes', 'on', 'y', true, 1]) assert.equal(ok(s, t), true, String(t));
  for (const f of ['false', 'False', '0', 'no', 'off', 'n', false, 0]) assert.equal(ok(s, f), false, String(f));
  for (const x of ['', 'maybe', '2', 2, null, []]) bad(s, x);
});

test('list: commas, YAML sequences, element errors carry the index', () => {
  const s = list(integer({ min: 1, max: 9 }));
  assert.deepEqual(ok(s, '1, 2,3,'), [1, 2, 3]);
  assert.deepEqual(ok(s, [4, '5']), [4, 5]);
  assert.deepEqual(ok(s, ''), []);
  const r = s.safeParse('1,x,3');
  assert.equal(r.success, false);
  assert.deepEqual(r.error?.issues[0]?.path, [1]);
  bad(s, { a: 1 });
  bad(list(text(), { minItems: 1 }), '');
});

test('oneOf is case-insensitive on input and canonical on output', () => {
  const s = oneOf(['info', 'debug'] as const);
  assert.equal(ok(s, 'INFO'), 'info');
  assert.match(bad(s, 'verbose'), /one of info, debug/);
});

test('text: trimming, patterns, NUL refused', () => {
  assert.equal(ok(text(), ' a '), 'a');
  bad(text(), '   ');
  bad(text(), 'a\0b');
  const ns = text({ what: 'a namespace', pattern: DNS1123_LABEL });
  assert.equal(ok(ns, 'metallb-system'), 'metallb-system');
  assert.equal(bad(ns, 'MetalLB'), 'a namespace');
  bad(ns, 'a'.repeat(64));
});

test('listenAddress: host:port forms', () => {
  const s = listenAddress();
  assert.deepEqual(ok(s, ':9090'), { host: '', port: 9090 });
  assert.deepEqual(ok(s, '127.0.0.1:80'), { host: '127.0.0.1', port: 80 });
  assert.deepEqual(ok(s, '[::1]:8080'), { host: '::1', port: 8080 });
  for (const x of ['9090', ':0', ':65536', '::1:80', 'host:', '', 9090]) bad(s, x);
});

test('property: integer accepts exactly the decimal renderings of in-range values', () => {
  const s = integer({ min: 10, max: 5000 });
  fc.assert(
    fc.property(fc.integer({ min: -100, max: 6000 }), (n) => {
      const r = s.safeParse(String(n));
      assert.equal(r.success, n >= 10 && n <= 5000);
      if (r.success) assert.equal(r.data, n);
    }),
    { numRuns: 300 },
  );
});

test('property: markMask round-trips VALUE/MASK written in hex or decimal', () => {
  const s = markMask();
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), fc.boolean(), (v, m, hex) => {
      const value = (v & m) >>> 0;
      const fmt = (n: number) => (hex ? `0x${n.toString(16)}` : String(n));
      const r = s.safeParse(`${fmt(value)}/${fmt(m)}`);
      assert.ok(r.success);
      assert.deepEqual(r.data, { value, mask: m });
    }),
    { numRuns: 300 },
  );
});

test('property: parsers never throw on arbitrary input', () => {
  const schemas = [integer({ min: 0, max: 10, hex: true }), markMask(), duration({ bareMs: true }), boolean(), list(u32()), listenAddress(), text()];
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.anything()), (x) => {
      for (const s of schemas) s.safeParse(x);
    }),
    { numRuns: 300 },
  );
});
