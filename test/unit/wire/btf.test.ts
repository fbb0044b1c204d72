// The BTF reader: the first three type records of this machine's
// /sys/kernel/btf/vmlinux (Linux 6.18), captured with
//   xxd -s 24 -l 40 /sys/kernel/btf/vmlinux
// behind a hand-written header and string section; a hand-built blob for
// structs with anonymous unions, bitfields, enums and typedefs (each u32
// commented); and, when the running kernel publishes BTF, the real thing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { DecodeError } from '../../../src/errors.js';
import { BTF_KIND, decodeBtf, decodeBtfHeader } from '../../../src/wire/btf.js';
import { atOffset, hex } from '../../harness/bytes.js';

const CAPTURED = hex(`
  9feb 01 00             // magic 0xeb9f, version 1, flags 0
  18000000               // hdr_len 24
  00000000 28000000      // type_off 0, type_len 40
  28000000 13000000      // str_off 40, str_len 19
  // xxd -s 24 -l 40 /sys/kernel/btf/vmlinux:
  01000000 00000001 08000000 40000000   // [1] INT name_off 1, info kind 1, size 8; bits 64
  00000000 0000000a 01000000            // [2] CONST -> 1
  00000000 00000009 02000000            // [3] VOLATILE -> 2
  00 6c6f6e6720756e7369676e656420696e7400   // "", "long unsigned int"
`);

for (const [name, at] of [
  ['plain', (b: Uint8Array) => b],
  ['at offset 7', (b: Uint8Array) => atOffset(b)],
] as const) {
  test(`decodes the kernel's first types (${name})`, () => {
    const btf = decodeBtf(at(CAPTURED));
    assert.equal(btf.count, 4);
    assert.deepEqual(btf.type(1), { id: 1, kind: BTF_KIND.INT, name: 'long unsigned int', size: 8, type: 0 });
    assert.equal(btf.type(3)!.kind, BTF_KIND.VOLATILE);
    assert.equal(btf.type(4), undefined);
    assert.equal(btf.resolve(3)!.name, 'long unsigned int');
    assert.equal(btf.sizeof(3), 8);
  });
}

/** A blob from u32 words and strings; each type record written out below. */
function blob(words: number[], strings: string): Uint8Array {
  const types = new Uint8Array(words.length * 4);
  const v = new DataView(types.buffer);
  words.forEach((w, i) => v.setUint32(4 * i, w >>> 0, true));
  const str = new TextEncoder().encode(strings);
  const out = new Uint8Array(24 + types.length + str.length);
  const h = new DataView(out.buffer);
  h.setUint16(0, 0xeb9f, true);
  h.setUint8(2, 1);
  h.setUint32(4, 24, true);
  h.setUint32(8, 0, true);
  h.setUint32(12, types.length, true);
  h.setUint32(16, types.length, true);
  h.setUint32(20, str.length, true);
  out.set(types, 24);
  out.set(str, 24 + types.length);
  return out;
}

const STR = '\0long unsigned int\0net\0passive\0inum\0mark\0reserved_tailroom\0sk_buff\0dev\0flags\0skb_drop_reason\0SKB_NOT_DROPPED_YET\0SKB_DROP_REASON_PKT_TOO_BIG\0big\0MINUS\0possible_net_t\0';
const s = (name: string) => STR.indexOf(`\0${name}\0`) + 1;
const info = (kind: number, vlen: number, kindFlag = false) => ((kindFlag ? 1 << 31 : 0) | (kind << 24) | vlen) >>> 0;

const SYNTH = blob(
  [
    // [1] INT 'long unsigned int' size 8, 64 bits
    s('long unsigned int'), info(1, 0), 8, 64,
    // [2] CONST -> 1, [3] VOLATILE -> 2
    0, info(10, 0), 1,
    0, info(9, 0), 2,
    // [4] PTR -> 5
    0, info(2, 0), 5,
    // [5] STRUCT 'net' size 16: passive @0, inum @64 bits
    s('net'), info(4, 2), 16,
    s('passive'), 1, 0,
    s('inum'), 1, 64,
    // [6] UNION (anon) size 8: mark @0, reserved_tailroom @0
    0, info(5, 2), 8,
    s('mark'), 1, 0,
    s('reserved_tailroom'), 1, 0,
    // [7] STRUCT 'sk_buff' size 24, kind_flag (bitfield offsets): dev @0, (anon union) @64, flags: 3 bits @128
    s('sk_buff'), info(4, 3, true), 24,
    s('dev'), 4, 0,
    0, 6, 64,
    s('flags'), 1, (3 << 24) | 128,
    // [8] ENUM 'skb_drop_reason' size 4: SKB_NOT_DROPPED_YET 0, SKB_DROP_REASON_PKT_TOO_BIG 93
    s('skb_drop_reason'), info(6, 2), 4,
    s('SKB_NOT_DROPPED_YET'), 0,
    s('SKB_DROP_REASON_PKT_TOO_BIG'), 93,
    // [9] ENUM64 'big' size 8, signed (kind_flag): MINUS = -2
    s('big'), info(19, 1, true), 8,
    s('MINUS'), 0xfffffffe, 0xffffffff,
    // [10] TYPEDEF 'possible_net_t' -> 7
    s('possible_net_t'), info(8, 0), 7,
  ],
  STR,
);

test('finds members through anonymous unions and typedefs, with bit offsets', () => {
  const btf = decodeBtf(atOffset(SYNTH));
  const skb = btf.find(BTF_KIND.STRUCT, 'sk_buff')!;
  assert.equal(btf.member(skb, ['mark'])!.bitOffset, 64);
  assert.equal(btf.member(skb, ['reserved_tailroom'])!.bitOffset, 64);
  assert.deepEqual({ ...btf.member(skb, ['flags'])!, type: undefined }, { bitOffset: 128, bitSize: 3, type: undefined });
  // through a pointer? no: member() walks embedded structs only; dev is a PTR
  assert.equal(btf.member(skb, ['dev', 'inum']), undefined);
  const net = btf.find(BTF_KIND.STRUCT, 'net')!;
  assert.equal(btf.member(net, ['inum'])!.bitOffset, 64);
  const td = btf.find(BTF_KIND.TYPEDEF, 'possible_net_t')!;
  assert.equal(btf.resolve(td.id)!.name, 'sk_buff');
  assert.equal(btf.sizeof(td.id), 24);
  assert.equal(btf.member(skb, ['nope']), undefined);
});

test('reads enums, signed 64-bit ones too', () => {
  const btf = decodeBtf(SYNTH);
  assert.deepEqual(btf.enumValues('skb_drop_reason'), [
    { name: 'SKB_NOT_DROPPED_YET', value: 0n },
    { name: 'SKB_DROP_REASON_PKT_TOO_BIG', value: 93n },
  ]);
  assert.deepEqual(btf.enumValues('big'), [{ name: 'MINUS', value: -2n }]);
  assert.equal(btf.enumValues('absent'), undefined);
});

test('refuses bad magic, sections past the end, cut records, unknown kinds, bad name offsets', () => {
  const bad = (b: Uint8Array, re: RegExp) => assert.throws(() => decodeBtf(b), (e: unknown) => e instanceof DecodeError && re.test(e.message));
  const m = SYNTH.slice();
  m[0] = 0;
  bad(m, /bad magic/);
  bad(SYNTH.subarray(0, SYNTH.length - 5), /runs past the blob/);
  const cut = SYNTH.slice();
  new DataView(cut.buffer).setUint32(12, 20, true); // type_len 20: the second record is cut
  bad(cut, /needs|data/);
  const kind = SYNTH.slice();
  kind[24 + 7] = 25; // info's kind byte of type 1
  bad(kind, /unknown kind 25/);
  const name = SYNTH.slice();
  new DataView(name.buffer).setUint32(24, 9999, true);
  bad(name, /name offset 9999/);
  const member = SYNTH.slice();
  new DataView(member.buffer).setUint32(24 + 16 + 12 + 12 + 12 + 12, 5000, true); // first member name of struct net
  bad(member, /name offset 5000/);
});

test('arbitrary bytes decode or raise DecodeError, nothing else', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: 199 }), (noise, at) => {
      const b = SYNTH.slice();
      for (let i = 0; i < noise.length && at + i < b.length; i++) b[at + i] = noise[i]!;
      try {
        const btf = decodeBtf(b);
        // every type then builds without throwing
        for (let id = 0; id < btf.count; id++) btf.resolve(id);
        btf.enumValues('skb_drop_reason');
      } catch (e) {
        assert.ok(e instanceof DecodeError, String(e));
      }
    }),
  );
});

const VMLINUX = '/sys/kernel/btf/vmlinux';
test('the running kernel: sk_buff, net_device and enum skb_drop_reason', { skip: existsSync(VMLINUX) ? false : 'no /sys/kernel/btf/vmlinux' }, () => {
  const raw = new Uint8Array(readFileSync(VMLINUX));
  assert.equal(decodeBtfHeader(raw).version, 1);
  const btf = decodeBtf(raw);
  const skb = btf.findAll(BTF_KIND.STRUCT, 'sk_buff').find((t) => t.members?.length)!;
  for (const f of ['head', 'data', 'len', 'mark', 'dev', 'network_header', 'protocol']) assert.ok(btf.member(skb, [f]), `sk_buff.${f}`);
  assert.equal(btf.sizeof(btf.member(skb, ['network_header'])!.type.id), 2);
  const reasons = btf.enumValues('skb_drop_reason')!;
  assert.ok(reasons.some((r) => r.name === 'SKB_DROP_REASON_PKT_TOO_BIG'));
  assert.ok(reasons.some((r) => r.name === 'SKB_DROP_REASON_NETFILTER_DROP'));
});
