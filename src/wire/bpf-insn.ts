/**
 * eBPF instructions (include/uapi/linux/bpf.h, bpf_common.h;
 * Documentation/bpf/standardization/instruction-set.rst) and a small
 * assembler with symbolic jump labels.
 *
 * One instruction is 8 bytes, little-endian on the hosts pathguard runs on:
 *
 *   struct bpf_insn {
 *     __u8  code;        opcode: class | size/op | mode/source
 *     __u8  dst_reg:4;   low nibble
 *     __u8  src_reg:4;   high nibble
 *     __s16 off;
 *     __s32 imm;
 *   };
 *
 * BPF_LD | BPF_IMM | BPF_DW (lddw) takes two slots: the second carries the
 * upper 32 bits of the constant in its imm. With src_reg = BPF_PSEUDO_MAP_FD
 * the constant is a map file descriptor that the verifier replaces with the
 * map's address.
 */

/** Instruction classes (bpf_common.h, bpf.h). */
export const BPF_CLASS = {
  LD: 0x00,
  LDX: 0x01,
  ST: 0x02,
  STX: 0x03,
  ALU: 0x04,
  JMP: 0x05,
  JMP32: 0x06,
  ALU64: 0x07,
} as const;

/** Load/store sizes. */
export const BPF_SIZE = { W: 0x00, H: 0x08, B: 0x10, DW: 0x18 } as const;
export type Size = keyof typeof BPF_SIZE;

/** Load/store modes. */
export const BPF_MODE = { IMM: 0x00, MEM: 0x60, ATOMIC: 0xc0 } as const;

/** Operand source: K = the immediate, X = src_reg. */
export const BPF_SRC = { K: 0x00, X: 0x08 } as const;

/** ALU operations. */
export const BPF_ALU_OP = {
  ADD: 0x00,
  SUB: 0x10,
  MUL: 0x20,
  DIV: 0x30,
  OR: 0x40,
  AND: 0x50,
  LSH: 0x60,
  RSH: 0x70,
  NEG: 0x80,
  MOD: 0x90,
  XOR: 0xa0,
  MOV: 0xb0,
  ARSH: 0xc0,
  END: 0xd0,
} as const;
export type AluOp = keyof typeof BPF_ALU_OP;

/** Jump operations. */
export const BPF_JMP_OP = {
  JA: 0x00,
  JEQ: 0x10,
  JGT: 0x20,
  JGE: 0x30,
  JSET: 0x40,
  JNE: 0x50,
  JSGT: 0x60,
  JSGE: 0x70,
  CALL: 0x80,
  EXIT: 0x90,
  JLT: 0xa0,
  JLE: 0xb0,
  JSLT: 0xc0,
  JSLE: 0xd0,
} as const;
export type JmpOp = Exclude<keyof typeof BPF_JMP_OP, 'CALL' | 'EXIT' | 'JA'>;

/** #define BPF_PSEUDO_MAP_FD 1: lddw src_reg that marks a map fd. */
export const BPF_PSEUDO_MAP_FD = 1;

/** Registers: R0 return value, R1-R5 arguments (clobbered by calls), R6-R9 callee-saved, R10 frame pointer (read-only). */
export const R = { R0: 0, R1: 1, R2: 2, R3: 3, R4: 4, R5: 5, R6: 6, R7: 7, R8: 8, R9: 9, R10: 10 } as const;
export type Reg = (typeof R)[keyof typeof R];

/**
 * Helper function ids (the __BPF_FUNC_MAPPER list in bpf.h; the numbering
 * is ABI and never changes).
 */
export const BPF_FUNC = {
  map_lookup_elem: 1,
  map_update_elem: 2,
  map_delete_elem: 3,
  probe_read: 4,
  ktime_get_ns: 5,
  trace_printk: 6,
  get_smp_processor_id: 8,
  get_current_pid_tgid: 14,
  perf_event_output: 25,
  map_push_elem: 87,
  probe_read_kernel: 113,
  ringbuf_output: 130,
  ringbuf_reserve: 131,
  ringbuf_submit: 132,
  ringbuf_discard: 133,
} as const;

/** One encoded slot, or a jump whose target is a label resolved at assembly. */
export interface Insn {
  readonly code: number;
  readonly dst: number;
  readonly src: number;
  readonly off: number;
  readonly imm: number;
  /** Jump target label; `off` is filled in by assemble(). */
  readonly target?: string;
}

/** A label's position in the program, for assemble(). */
export interface Label {
  readonly label: string;
}

export type Item = Insn | Label;

const INSN_SIZE = 8;

function insn(code: number, dst: number, src: number, off: number, imm: number, target?: string): Insn {
  return target === undefined ? { code, dst, src, off, imm } : { code, dst, src, off, imm, target };
}

/** dst = imm (64-bit, imm sign-extended). */
export function movImm(dst: Reg, imm: number): Insn {
  return insn(BPF_CLASS.ALU64 | BPF_ALU_OP.MOV | BPF_SRC.K, dst, 0, 0, imm);
}

/** dst = src (64-bit). */
export function movReg(dst: Reg, src: Reg): Insn {
  return insn(BPF_CLASS.ALU64 | BPF_ALU_OP.MOV | BPF_SRC.X, dst, src, 0, 0);
}

/** dst op= imm, 64-bit (imm sign-extended). */
export function alu64Imm(op: AluOp, dst: Reg, imm: number): Insn {
  return insn(BPF_CLASS.ALU64 | BPF_ALU_OP[op] | BPF_SRC.K, dst, 0, 0, imm);
}

/** dst op= src, 64-bit. */
export function alu64Reg(op: AluOp, dst: Reg, src: Reg): Insn {
  return insn(BPF_CLASS.ALU64 | BPF_ALU_OP[op] | BPF_SRC.X, dst, src, 0, 0);
}

/** dst op= imm on the low 32 bits (the upper half is zeroed). */
export function alu32Imm(op: AluOp, dst: Reg, imm: number): Insn {
  return insn(BPF_CLASS.ALU | BPF_ALU_OP[op] | BPF_SRC.K, dst, 0, 0, imm);
}

/**
 * Byte swap to big-endian: BPF_ALU | BPF_END | BPF_TO_BE (0x08), imm = 16,
 * 32 or 64. On a little-endian host this swaps (be16/be32/be64 in C).
 */
export function toBe(dst: Reg, bits: 16 | 32 | 64): Insn {
  return insn(BPF_CLASS.ALU | BPF_ALU_OP.END | 0x08, dst, 0, 0, bits);
}

/** dst = *(size *)(src + off) */
export function ldx(size: Size, dst: Reg, src: Reg, off: number): Insn {
  return insn(BPF_CLASS.LDX | BPF_MODE.MEM | BPF_SIZE[size], dst, src, off, 0);
}

/** *(size *)(dst + off) = src */
export function stx(size: Size, dst: Reg, off: number, src: Reg): Insn {
  return insn(BPF_CLASS.STX | BPF_MODE.MEM | BPF_SIZE[size], dst, src, off, 0);
}

/** *(size *)(dst + off) = imm */
export function st(size: Size, dst: Reg, off: number, imm: number): Insn {
  return insn(BPF_CLASS.ST | BPF_MODE.MEM | BPF_SIZE[size], dst, 0, off, imm);
}

/**
 * Atomic add: lock *(size *)(dst + off) += src (BPF_STX | BPF_ATOMIC, imm
 * BPF_ADD; W or DW only).
 */
export function atomicAdd(size: 'W' | 'DW', dst: Reg, off: number, src: Reg): Insn {
  return insn(BPF_CLASS.STX | BPF_MODE.ATOMIC | BPF_SIZE[size], dst, src, off, BPF_ALU_OP.ADD);
}

/**
 * lddw: dst = a 64-bit constant, two slots. Returned as two Insns; the
 * second has code 0 as the instruction set requires.
 */
export function ldImm64(dst: Reg, value: bigint, src = 0): [Insn, Insn] {
  const v = BigInt.asUintN(64, value);
  const lo = Number(BigInt.asIntN(32, v & 0xffffffffn));
  const hi = Number(BigInt.asIntN(32, v >> 32n));
  return [insn(BPF_CLASS.LD | BPF_MODE.IMM | BPF_SIZE.DW, dst, src, 0, lo), insn(0, 0, 0, 0, hi)];
}

/** dst = address of the map whose fd is `fd` (lddw with BPF_PSEUDO_MAP_FD). */
export function ldMapFd(dst: Reg, fd: number): [Insn, Insn] {
  return ldImm64(dst, BigInt(fd), BPF_PSEUDO_MAP_FD);
}

/** if (dst op imm) goto target, 64-bit compare (imm sign-extended). */
export function jmpImm(op: JmpOp, dst: Reg, imm: number, target: string): Insn {
  return insn(BPF_CLASS.JMP | BPF_JMP_OP[op] | BPF_SRC.K, dst, 0, 0, imm, target);
}

/** if (dst op src) goto target, 64-bit compare. */
export function jmpReg(op: JmpOp, dst: Reg, src: Reg, target: string): Insn {
  return insn(BPF_CLASS.JMP | BPF_JMP_OP[op] | BPF_SRC.X, dst, src, 0, 0, target);
}

/** if ((u32)dst op (u32)imm) goto target: compares the low 32 bits, so any 32-bit pattern is a valid imm. */
export function jmp32Imm(op: JmpOp, dst: Reg, imm: number, target: string): Insn {
  return insn(BPF_CLASS.JMP32 | BPF_JMP_OP[op] | BPF_SRC.K, dst, 0, 0, imm | 0, target);
}

/** goto target */
export function ja(target: string): Insn {
  return insn(BPF_CLASS.JMP | BPF_JMP_OP.JA, 0, 0, 0, 0, target);
}

/** Calls helper `id` (BPF_FUNC); arguments in R1-R5, result in R0. */
export function call(id: number): Insn {
  return insn(BPF_CLASS.JMP | BPF_JMP_OP.CALL, 0, 0, 0, id);
}

export function exit(): Insn {
  return insn(BPF_CLASS.JMP | BPF_JMP_OP.EXIT, 0, 0, 0, 0);
}

export function label(name: string): Label {
  return { label: name };
}

function isLabel(item: Item): item is Label {
  return (item as Label).label !== undefined;
}

/**
 * Resolves labels and encodes the program. A jump's offset counts slots
 * from the instruction after the jump (pc + off + 1). Throws on an unknown
 * or duplicate label, or an offset that does not fit in 16 bits.
 */
export function assemble(items: readonly (Item | readonly Item[])[]): Uint8Array {
  const flat: Item[] = [];
  for (const it of items) {
    if (Array.isArray(it)) flat.push(...(it as readonly Item[]));
    else flat.push(it as Item);
  }
  const labels = new Map<string, number>();
  const slots: Insn[] = [];
  for (const it of flat) {
    if (isLabel(it)) {
      if (labels.has(it.label)) throw new Error(`bpf assembler: duplicate label ${it.label}`);
      labels.set(it.label, slots.length);
    } else {
      slots.push(it);
    }
  }
  const out = new Uint8Array(slots.length * INSN_SIZE);
  const view = new DataView(out.buffer);
  slots.forEach((s, pc) => {
    let off = s.off;
    if (s.target !== undefined) {
      const at = labels.get(s.target);
      if (at === undefined) throw new Error(`bpf assembler: unknown label ${s.target}`);
      off = at - pc - 1;
      if (off < -32768 || off > 32767) throw new Error(`bpf assembler: jump to ${s.target} out of range (${off})`);
    }
    encodeInsnInto(view, pc * INSN_SIZE, { ...s, off });
  });
  return out;
}

function encodeInsnInto(view: DataView, at: number, s: Insn): void {
  view.setUint8(at, s.code);
  view.setUint8(at + 1, ((s.src & 0x0f) << 4) | (s.dst & 0x0f));
  view.setInt16(at + 2, s.off, true);
  view.setInt32(at + 4, s.imm | 0, true);
}

/** One instruction's 8 bytes (labels must already be resolved: `off` is used as is). */
export function encodeInsn(s: Insn): Uint8Array {
  const out = new Uint8Array(INSN_SIZE);
  encodeInsnInto(new DataView(out.buffer), 0, s);
  return out;
}

/** The inverse of encodeInsn, for tests and for printing a refused program. */
export function decodeInsns(bytes: Uint8Array): Insn[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Insn[] = [];
  for (let at = 0; at + INSN_SIZE <= bytes.byteLength; at += INSN_SIZE) {
    const regs = view.getUint8(at + 1);
    out.push({ code: view.getUint8(at), dst: regs & 0x0f, src: regs >> 4, off: view.getInt16(at + 2, true), imm: view.getInt32(at + 4, true) });
  }
  return out;
}
