// The BPF instruction encoder against the encodings of the kernel's
// Documentation/bpf/standardization/instruction-set.rst (opcode tables,
// "Instruction encoding": code, dst_reg low nibble, src_reg high nibble,
// little-endian off and imm) and the macros of include/linux/filter.h
// (BPF_MOV64_IMM, BPF_LD_MAP_FD, BPF_EXIT_INSN ...).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  R,
  alu32Imm,
  alu64Imm,
  alu64Reg,
  assemble,
  atomicAdd,
  call,
  decodeInsns,
  encodeInsn,
  exit,
  ja,
  jmp32Imm,
  jmpImm,
  label,
  ldImm64,
  ldMapFd,
  ldx,
  movImm,
  movReg,
  st,
  stx,
  toBe,
  BPF_FUNC,
} from '../../../src/wire/bpf-insn.js';
import { hex } from '../../harness/bytes.js';

const cases: [string, Uint8Array, string][] = [
  // opcode 0xb7: BPF_ALU64 | BPF_MOV | BPF_K          BPF_MOV64_IMM(BPF_REG_0, 0)
  ['mov64 r0, 0', encodeInsn(movImm(R.R0, 0)), 'b7 00 0000 00000000'],
  // 0xbf: BPF_ALU64 | BPF_MOV | BPF_X, dst 6 src 1    BPF_MOV64_REG(BPF_REG_6, BPF_REG_1)
  ['mov64 r6, r1', encodeInsn(movReg(R.R6, R.R1)), 'bf 16 0000 00000000'],
  // 0x07: BPF_ALU64 | BPF_ADD | BPF_K, imm -8         BPF_ALU64_IMM(BPF_ADD, BPF_REG_2, -8)
  ['add64 r2, -8', encodeInsn(alu64Imm('ADD', R.R2, -8)), '07 02 0000 f8ffffff'],
  // 0x0f: BPF_ALU64 | BPF_ADD | BPF_X
  ['add64 r9, r8', encodeInsn(alu64Reg('ADD', R.R9, R.R8)), '0f 89 0000 00000000'],
  // 0x77: BPF_ALU64 | BPF_RSH | BPF_K
  ['rsh64 r1, 4', encodeInsn(alu64Imm('RSH', R.R1, 4)), '77 01 0000 04000000'],
  // 0x54: BPF_ALU | BPF_AND | BPF_K (32-bit)
  ['and32 w3, 0xffffff', encodeInsn(alu32Imm('AND', R.R3, 0xffffff)), '54 03 0000 ffffff00'],
  // 0xdc: BPF_ALU | BPF_END | BPF_TO_BE, imm 16       be16 r1
  ['be16 r1', encodeInsn(toBe(R.R1, 16)), 'dc 01 0000 10000000'],
  // 0x79: BPF_LDX | BPF_MEM | BPF_DW                  BPF_LDX_MEM(BPF_DW, BPF_REG_7, BPF_REG_6, 0)
  ['ldxdw r7, [r6+0]', encodeInsn(ldx('DW', R.R7, R.R6, 0)), '79 67 0000 00000000'],
  // 0x71: BPF_LDX | BPF_MEM | BPF_B, off -128
  ['ldxb r1, [r10-128]', encodeInsn(ldx('B', R.R1, R.R10, -128)), '71 a1 80ff 00000000'],
  // 0x69: BPF_LDX | BPF_MEM | BPF_H
  ['ldxh r4, [r10-224]', encodeInsn(ldx('H', R.R4, R.R10, -224)), '69 a4 20ff 00000000'],
  // 0x7b: BPF_STX | BPF_MEM | BPF_DW                  BPF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_7, -8)
  ['stxdw [r10-8], r7', encodeInsn(stx('DW', R.R10, -8, R.R7)), '7b 7a f8ff 00000000'],
  // 0x62: BPF_ST | BPF_MEM | BPF_W                    BPF_ST_MEM(BPF_W, BPF_REG_10, -176, 3)
  ['stw [r10-176], 3', encodeInsn(st('W', R.R10, -176, 3)), '62 0a 50ff 03000000'],
  // 0xdb: BPF_STX | BPF_ATOMIC | BPF_DW, imm BPF_ADD  lock *(u64 *)(r0 + 0) += r1
  ['lock add64', encodeInsn(atomicAdd('DW', R.R0, 0, R.R1)), 'db 10 0000 00000000'],
  // 0x85: BPF_JMP | BPF_CALL, imm = helper id         BPF_EMIT_CALL(BPF_FUNC_map_lookup_elem)
  ['call map_lookup_elem', encodeInsn(call(BPF_FUNC.map_lookup_elem)), '85 00 0000 01000000'],
  ['call probe_read_kernel', encodeInsn(call(BPF_FUNC.probe_read_kernel)), '85 00 0000 71000000'],
  ['call ringbuf_output', encodeInsn(call(BPF_FUNC.ringbuf_output)), '85 00 0000 82000000'],
  // 0x95: BPF_JMP | BPF_EXIT                          BPF_EXIT_INSN()
  ['exit', encodeInsn(exit()), '95 00 0000 00000000'],
];

for (const [name, got, want] of cases) {
  test(`encodes ${name}`, () => assert.deepEqual(got, hex(want)));
}

test('lddw takes two slots; BPF_LD_MAP_FD sets src_reg = BPF_PSEUDO_MAP_FD', () => {
  // 0x18: BPF_LD | BPF_IMM | BPF_DW; the second slot is all zero but imm = upper half
  assert.deepEqual(assemble([ldMapFd(R.R1, 7)]), hex('18 11 0000 07000000   00 00 0000 00000000'));
  assert.deepEqual(assemble([ldImm64(R.R2, 0x1122334455667788n)]), hex('18 02 0000 88776655   00 00 0000 44332211'));
  assert.deepEqual(assemble([ldImm64(R.R0, -1n)]), hex('18 00 0000 ffffffff   00 00 0000 ffffffff'));
});

test('jumps resolve to pc + off + 1, forwards and backwards', () => {
  const prog = assemble([
    label('top'),
    jmpImm('JEQ', R.R7, 0, 'out'), // 0x15: BPF_JMP | BPF_JEQ | BPF_K
    jmp32Imm('JNE', R.R3, 0xc6336401, 'top'), // 0x56: BPF_JMP32 | BPF_JNE | BPF_K, any 32-bit pattern
    ja('out'), // 0x05: BPF_JMP | BPF_JA
    label('out'),
    exit(),
  ]);
  assert.deepEqual(
    prog,
    hex(`
      15 07 0200 00000000   // pc 0: to pc 3
      56 03 feff 016433c6   // pc 1: to pc 0 (off -2)
      05 00 0000 00000000   // pc 2: to pc 3 (off 0)
      95 00 0000 00000000
    `),
  );
});

test('unknown and duplicate labels are refused', () => {
  assert.throws(() => assemble([ja('nowhere')]), /unknown label nowhere/);
  assert.throws(() => assemble([label('a'), label('a'), exit()]), /duplicate label a/);
});

test('decodeInsns inverts the encoding', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 10 }),
      fc.integer({ min: 0, max: 10 }),
      fc.integer({ min: -32768, max: 32767 }),
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      (code, dst, src, off, imm) => {
        const i = { code, dst, src, off, imm };
        assert.deepEqual(decodeInsns(encodeInsn(i)), [i]);
      },
    ),
  );
});
