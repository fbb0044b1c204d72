// The flow filter's validation and the generated programs: every filter
// shape assembles (labels resolve, jumps fit), the constants the kernel
// compares with are the addresses and ports in the byte order a load from
// the packet copy yields, and only the hooks that forget skbs delete them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConfigError } from '../../../src/errors.js';
import { describeFilter, parseFilter, parsePrefix } from '../../../src/trace/filter.js';
import { HOOKS, buildFib6Program, buildFibProgram, buildHookProgram, type Fib6Layout, type FibLayout } from '../../../src/trace/program.js';
import type { KernelLayout } from '../../../src/trace/kernel-layout.js';
import { BPF_FUNC, assemble, decodeInsns } from '../../../src/wire/bpf-insn.js';

// the offsets this kernel's BTF gave (pathguard trace on Linux 6.18); any plausible values do for assembly
const LAYOUT: KernelLayout = {
  skb: { head: 192, data: 200, networkHeader: 180, len: 112, mark: 164, dev: 16, protocol: 176 },
  netDevice: { ifindex: 224, name: 280, ndNet: 264 },
  netInum: 176,
};
const MAPS = { events: 5, followed: 6, lost: 7 };
const FIB: FibLayout = { flowi4: { oif: 0, iif: 4, mark: 12, proto: 18, saddr: 40, daddr: 44, uli: 48 }, nhc: { dev: 0, gwFamily: 22, gw: 32 } };
const FIB6: Fib6Layout = { flowi6: { oif: 0, iif: 4, mark: 12, proto: 18, saddr: 56, daddr: 40, uli: 76 }, res: { nh: 0, type: 20 }, tableId: 16, nhc: FIB.nhc };

test('prefixes: host bits cleared, lengths checked', () => {
  assert.deepEqual(parsePrefix('203.0.113.77/24')!.bytes, Uint8Array.of(203, 0, 113, 0));
  assert.equal(parsePrefix('2001:db8::1')!.length, 128);
  assert.equal(parsePrefix('2001:db8::/129'), undefined);
  assert.equal(parsePrefix('192.0.2.1/x'), undefined);
  assert.equal(parsePrefix('192.0.2.1/24/1'), undefined);
  assert.equal(parsePrefix('nope'), undefined);
});

test('every problem is reported at once, naming flag, value and expectation', () => {
  assert.throws(
    () => parseFilter({ src: '192.0.2.300', dport: '70000', proto: 'gre', family: '5' }),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.deepEqual(e.problems.map((p) => p.field).sort(), ['--dport', '--family', '--proto', '--src']);
      return true;
    },
  );
  assert.throws(() => parseFilter({ src: '192.0.2.1', dst: '2001:db8::1' }), /one family/);
  assert.throws(() => parseFilter({ proto: 'icmp', port: '53' }), /tcp or udp/);
  assert.throws(() => parseFilter({ proto: 'icmpv6', family: '4' }), /one family/);
});

test('the family follows from addresses and ICMP flavours', () => {
  assert.equal(parseFilter({ dst: '2001:db8::/32' }).family, 6);
  assert.equal(parseFilter({ proto: 'icmp' }).family, 4);
  assert.equal(parseFilter({}).family, undefined);
  assert.equal(describeFilter(parseFilter({ dst: '203.0.113.9', proto: 'udp', dport: '9' })), 'family 4 dst 203.0.113.9/32 proto udp dport 9');
});

test('the destination prefix and port are compared as loaded from the packet', () => {
  const f = parseFilter({ dst: '203.0.113.0/24', proto: 'udp', dport: '9' });
  const insns = decodeInsns(assemble(buildHookProgram(HOOKS[0]!, f, LAYOUT, MAPS)));
  // 203.0.113.0 read as a little-endian u32 is 0x007100cb; the /24 mask is 0x00ffffff
  assert.ok(insns.some((i) => i.code === 0x54 && i.imm === 0x00ffffff), 'and32 with the mask');
  assert.ok(insns.some((i) => i.code === 0x56 && i.imm === 0x007100cb), 'jne32 with the address');
  // port 9 in network order, as a little-endian u16 load yields it: 0x0900
  assert.ok(insns.some((i) => i.code === 0x55 && i.imm === 0x0900), 'jne with the port');
  // the FIB programs compare the same (a regression: their ports once went unchecked)
  for (const prog of [buildFibProgram(f, LAYOUT, FIB, MAPS), buildFib6Program(parseFilter({ dst: '2001:db8::9', proto: 'udp', dport: '9' }), LAYOUT, FIB6, MAPS)]) {
    const fib = decodeInsns(assemble(prog));
    assert.ok(fib.some((i) => i.code === 0x55 && i.imm === 0x0900), 'FIB: jne with the port');
  }
});

test('only drop and consume delete the skb from the followed map', () => {
  const f = parseFilter({});
  for (const hook of HOOKS) {
    const insns = decodeInsns(assemble(buildHookProgram(hook, f, LAYOUT, MAPS)));
    const deletes = insns.some((i) => i.code === 0x85 && i.imm === BPF_FUNC.map_delete_elem);
    assert.equal(deletes, hook.kind === 'drop' || hook.kind === 'consume', hook.tracepoint);
    const updates = insns.some((i) => i.code === 0x85 && i.imm === BPF_FUNC.map_update_elem);
    assert.equal(updates, hook.kind === 'receive' || hook.kind === 'transmit', hook.tracepoint);
  }
});

test('every filter shape assembles for every hook', () => {
  const addr4 = fc.constantFrom('198.51.100.1', '203.0.113.0/24', '192.0.2.128/25', '0.0.0.0/0');
  const addr6 = fc.constantFrom('2001:db8::1', '2001:db8:2::/48', '2001:db8::/33');
  const port = fc.option(fc.integer({ min: 0, max: 65535 }).map(String), { nil: undefined });
  fc.assert(
    fc.property(
      fc.oneof(
        fc.record({ src: fc.option(addr4, { nil: undefined }), dst: fc.option(addr4, { nil: undefined }) }),
        fc.record({ src: fc.option(addr6, { nil: undefined }), dst: fc.option(addr6, { nil: undefined }) }),
      ),
      fc.option(fc.constantFrom('tcp', 'udp'), { nil: undefined }),
      port,
      port,
      port,
      fc.boolean(),
      (addrs, proto, sport, dport, anyPort, inner) => {
        const f = parseFilter({ ...addrs, proto, sport, dport, port: anyPort, inner });
        for (const hook of HOOKS) {
          const bytes = assemble(buildHookProgram(hook, f, LAYOUT, MAPS));
          assert.equal(bytes.length % 8, 0);
          assert.ok(bytes.length / 8 < 4096, 'under BPF_MAXINSNS');
        }
        if (f.family !== 6) assert.ok(assemble(buildFibProgram(f, LAYOUT, FIB, MAPS)).length > 0);
        if (f.family !== 4) assert.ok(assemble(buildFib6Program(f, LAYOUT, FIB6, MAPS)).length > 0);
      },
    ),
    { numRuns: 60 },
  );
});
