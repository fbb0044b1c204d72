/**
 * BTF, the BPF Type Format (include/uapi/linux/btf.h, Documentation/bpf/btf.rst):
 * the kernel's own description of its types, published at
 * /sys/kernel/btf/vmlinux. pathguard reads it to find field offsets
 * (sk_buff.head, net_device.ifindex, ...) and enum values
 * (enum skb_drop_reason) of the running kernel instead of hard-coding them.
 *
 *   struct btf_header {            all host order (little-endian here)
 *     __u16 magic;                 0xeB9F
 *     __u8  version;               1
 *     __u8  flags;
 *     __u32 hdr_len;               the type and string sections are relative to its end
 *     __u32 type_off, type_len;
 *     __u32 str_off, str_len;
 *   };
 *   struct btf_type {
 *     __u32 name_off;              into the string section
 *     __u32 info;                  bits 0-15 vlen, 24-28 kind, 31 kind_flag
 *     __u32 size_or_type;          size for INT/ENUM/STRUCT/UNION/DATASEC/FLOAT, a type id otherwise
 *   };                             followed by kind-specific data (see TRAILER below)
 *
 * Type ids start at 1 (0 is void). A struct member whose name is empty is an
 * anonymous struct or union whose members belong to the outer struct; lookups
 * by member name descend into them, as C does.
 */
import { DecodeError } from '../errors.js';
import { Reader } from './reader.js';

export const BTF_MAGIC = 0xeb9f;

/** BTF_KIND_* (btf.h). */
export const BTF_KIND = {
  UNKN: 0,
  INT: 1,
  PTR: 2,
  ARRAY: 3,
  STRUCT: 4,
  UNION: 5,
  ENUM: 6,
  FWD: 7,
  TYPEDEF: 8,
  VOLATILE: 9,
  CONST: 10,
  RESTRICT: 11,
  FUNC: 12,
  FUNC_PROTO: 13,
  VAR: 14,
  DATASEC: 15,
  FLOAT: 16,
  DECL_TAG: 17,
  TYPE_TAG: 18,
  ENUM64: 19,
} as const;
export type BtfKind = (typeof BTF_KIND)[keyof typeof BTF_KIND];

/** Bytes that follow struct btf_type, per kind: a fixed part plus vlen entries of `each` bytes. */
const TRAILER: Record<number, { fixed: number; each: number }> = {
  [BTF_KIND.INT]: { fixed: 4, each: 0 }, // __u32: encoding, offset, bits
  [BTF_KIND.PTR]: { fixed: 0, each: 0 },
  [BTF_KIND.ARRAY]: { fixed: 12, each: 0 }, // struct btf_array { type, index_type, nelems }
  [BTF_KIND.STRUCT]: { fixed: 0, each: 12 }, // struct btf_member { name_off, type, offset }
  [BTF_KIND.UNION]: { fixed: 0, each: 12 },
  [BTF_KIND.ENUM]: { fixed: 0, each: 8 }, // struct btf_enum { name_off; __s32 val }
  [BTF_KIND.FWD]: { fixed: 0, each: 0 },
  [BTF_KIND.TYPEDEF]: { fixed: 0, each: 0 },
  [BTF_KIND.VOLATILE]: { fixed: 0, each: 0 },
  [BTF_KIND.CONST]: { fixed: 0, each: 0 },
  [BTF_KIND.RESTRICT]: { fixed: 0, each: 0 },
  [BTF_KIND.FUNC]: { fixed: 0, each: 0 },
  [BTF_KIND.FUNC_PROTO]: { fixed: 0, each: 8 }, // struct btf_param { name_off, type }
  [BTF_KIND.VAR]: { fixed: 4, each: 0 }, // struct btf_var { linkage }
  [BTF_KIND.DATASEC]: { fixed: 0, each: 12 }, // struct btf_var_secinfo { type, offset, size }
  [BTF_KIND.FLOAT]: { fixed: 0, each: 0 },
  [BTF_KIND.DECL_TAG]: { fixed: 4, each: 0 }, // struct btf_decl_tag { __s32 component_idx }
  [BTF_KIND.TYPE_TAG]: { fixed: 0, each: 0 },
  [BTF_KIND.ENUM64]: { fixed: 0, each: 12 }, // struct btf_enum64 { name_off, val_lo32, val_hi32 }
};

export interface BtfMember {
  readonly name: string;
  readonly type: number;
  /** Offset from the start of the enclosing struct, in bits. */
  readonly bitOffset: number;
  /** Width of a bitfield in bits; 0 for an ordinary member. */
  readonly bitSize: number;
}

export interface BtfEnumValue {
  readonly name: string;
  readonly value: bigint;
}

export interface BtfType {
  readonly id: number;
  readonly kind: number;
  readonly name: string;
  /** Byte size for sized kinds, otherwise 0. */
  readonly size: number;
  /** The referenced type for PTR/TYPEDEF/CONST/VOLATILE/RESTRICT/TYPE_TAG/FUNC/VAR, the element type of ARRAY. */
  readonly type: number;
  readonly members?: readonly BtfMember[];
  readonly values?: readonly BtfEnumValue[];
  /** ARRAY only. */
  readonly nelems?: number;
}

export interface BtfHeader {
  readonly version: number;
  readonly flags: number;
  readonly hdrLen: number;
  readonly typeOff: number;
  readonly typeLen: number;
  readonly strOff: number;
  readonly strLen: number;
}

/** Where a member sits, found through anonymous structs and unions. */
export interface BtfMemberLocation {
  readonly bitOffset: number;
  readonly bitSize: number;
  readonly type: BtfType;
}

const SIZED = new Set<number>([BTF_KIND.INT, BTF_KIND.ENUM, BTF_KIND.STRUCT, BTF_KIND.UNION, BTF_KIND.DATASEC, BTF_KIND.FLOAT, BTF_KIND.ENUM64]);
const MODIFIERS = new Set<number>([BTF_KIND.TYPEDEF, BTF_KIND.CONST, BTF_KIND.VOLATILE, BTF_KIND.RESTRICT, BTF_KIND.TYPE_TAG]);

export function decodeBtfHeader(bytes: Uint8Array): BtfHeader {
  const r = new Reader(bytes, 'btf');
  const magic = r.u16le('magic');
  if (magic !== BTF_MAGIC) r.fail(`bad magic 0x${magic.toString(16)}, expected 0xeb9f`, 0);
  const version = r.u8('version');
  if (version !== 1) r.fail(`unsupported version ${version}`, 2);
  const flags = r.u8('flags');
  const hdrLen = r.u32le('hdr_len');
  if (hdrLen < 24) r.fail(`hdr_len ${hdrLen} shorter than struct btf_header`, 4);
  const h = { version, flags, hdrLen, typeOff: r.u32le('type_off'), typeLen: r.u32le('type_len'), strOff: r.u32le('str_off'), strLen: r.u32le('str_len') };
  for (const [off, len, what] of [[h.typeOff, h.typeLen, 'type'], [h.strOff, h.strLen, 'string']] as const) {
    if (hdrLen + off + len > bytes.byteLength) r.fail(`${what} section (${off}+${len}) runs past the blob (${bytes.byteLength - hdrLen} bytes after the header)`, 8);
  }
  return h;
}

/**
 * A decoded BTF blob. decodeBtf() checks every record (kinds, lengths, name
 * offsets) in one pass over the numbers; a type's object, names included,
 * is built the first time it is asked for (vmlinux has over 100,000 types
 * and a tracer needs a dozen).
 */
export class Btf {
  readonly header: BtfHeader;
  /** Types, void (id 0) included. */
  readonly count: number;
  private readonly view: DataView;
  private readonly strings: Uint8Array;
  /** Byte offset of each type record in `view` (index = id; [0] unused). */
  private readonly offsets: Uint32Array;
  private readonly cache = new Map<number, BtfType>();
  private readonly names = new Map<number, string>();
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });

  constructor(header: BtfHeader, view: DataView, strings: Uint8Array, offsets: Uint32Array) {
    this.header = header;
    this.view = view;
    this.strings = strings;
    this.offsets = offsets;
    this.count = offsets.length;
  }

  private name(off: number): string {
    if (off === 0) return '';
    let n = this.names.get(off);
    if (n === undefined) {
      let end = off;
      while (end < this.strings.byteLength && this.strings[end] !== 0) end++;
      n = this.decoder.decode(this.strings.subarray(off, end));
      this.names.set(off, n);
    }
    return n;
  }

  /** True when the NUL-terminated name at `off` is `want` (no string built). */
  private nameIs(off: number, want: Uint8Array): boolean {
    if (off + want.length >= this.strings.byteLength) return false;
    for (let i = 0; i < want.length; i++) if (this.strings[off + i] !== want[i]) return false;
    return this.strings[off + want.length] === 0;
  }

  type(id: number): BtfType | undefined {
    if (!Number.isInteger(id) || id < 0 || id >= this.count) return undefined;
    if (id === 0) return { id: 0, kind: BTF_KIND.UNKN, name: '', size: 0, type: 0 };
    const hit = this.cache.get(id);
    if (hit) return hit;
    const v = this.view;
    let at = this.offsets[id]!;
    const info = v.getUint32(at + 4, true);
    const sizeOrType = v.getUint32(at + 8, true);
    const vlen = info & 0xffff;
    const kind = (info >>> 24) & 0x1f;
    const kindFlag = info >>> 31 === 1;
    const sized = SIZED.has(kind);
    const base = { id, kind, name: this.name(v.getUint32(at, true)), size: sized ? sizeOrType : 0, type: sized ? 0 : sizeOrType };
    at += 12;
    let t: BtfType = base;
    if (kind === BTF_KIND.ARRAY) {
      t = { ...base, type: v.getUint32(at, true), nelems: v.getUint32(at + 8, true) };
    } else if (kind === BTF_KIND.STRUCT || kind === BTF_KIND.UNION) {
      const members: BtfMember[] = [];
      for (let i = 0; i < vlen; i++, at += 12) {
        const off = v.getUint32(at + 8, true);
        // kind_flag set: offset = bitfield_size << 24 | bit_offset (BTF_MEMBER_BITFIELD_SIZE/BIT_OFFSET)
        members.push({
          name: this.name(v.getUint32(at, true)),
          type: v.getUint32(at + 4, true),
          bitOffset: kindFlag ? off & 0xffffff : off,
          bitSize: kindFlag ? off >>> 24 : 0,
        });
      }
      t = { ...base, members };
    } else if (kind === BTF_KIND.ENUM) {
      const values: BtfEnumValue[] = [];
      for (let i = 0; i < vlen; i++, at += 8) {
        const raw = v.getUint32(at + 4, true);
        // kind_flag set: the values are signed
        values.push({ name: this.name(v.getUint32(at, true)), value: kindFlag ? BigInt(raw | 0) : BigInt(raw) });
      }
      t = { ...base, values };
    } else if (kind === BTF_KIND.ENUM64) {
      const values: BtfEnumValue[] = [];
      for (let i = 0; i < vlen; i++, at += 12) {
        const u = (BigInt(v.getUint32(at + 8, true)) << 32n) | BigInt(v.getUint32(at + 4, true));
        values.push({ name: this.name(v.getUint32(at, true)), value: kindFlag ? BigInt.asIntN(64, u) : u });
      }
      t = { ...base, values };
    }
    this.cache.set(id, t);
    return t;
  }

  /** Every type of `kind` called `name` (several structs may share a name in odd kernels). */
  findAll(kind: number, name: string): BtfType[] {
    const want = new TextEncoder().encode(name);
    const out: BtfType[] = [];
    for (let id = 1; id < this.count; id++) {
      const at = this.offsets[id]!;
      if (((this.view.getUint32(at + 4, true) >>> 24) & 0x1f) !== kind) continue;
      if (this.nameIs(this.view.getUint32(at, true), want)) out.push(this.type(id)!);
    }
    return out;
  }

  /** The first type of `kind` called `name`. */
  find(kind: number, name: string): BtfType | undefined {
    return this.findAll(kind, name)[0];
  }

  /** Follows typedefs and qualifiers to the type they name. */
  resolve(id: number): BtfType | undefined {
    let t = this.type(id);
    for (let hops = 0; t && MODIFIERS.has(t.kind) && hops < 32; hops++) t = this.type(t.type);
    return t;
  }

  /** Byte size of a type (pointers are 8 bytes: pathguard runs on 64-bit kernels only). */
  sizeof(id: number, depth = 0): number | undefined {
    const t = this.resolve(id);
    if (!t || depth > 32) return undefined;
    if (SIZED.has(t.kind)) return t.size;
    if (t.kind === BTF_KIND.PTR) return 8;
    if (t.kind === BTF_KIND.ARRAY) {
      const e = this.sizeof(t.type, depth + 1);
      return e === undefined ? undefined : e * (t.nelems ?? 0);
    }
    return undefined;
  }

  /**
   * Locates `struct.a.b` (path of member names) from the start of the struct,
   * descending into anonymous members and through typedefs. Undefined when
   * a name is missing.
   */
  member(struct: BtfType, path: readonly string[]): BtfMemberLocation | undefined {
    let cur: BtfType | undefined = struct;
    let base = 0;
    let last: BtfMemberLocation | undefined;
    for (const name of path) {
      cur = cur && this.resolve(cur.id);
      if (!cur || !cur.members) return undefined;
      const found = this.findMember(cur, name, 0);
      if (!found) return undefined;
      base += found.bitOffset;
      last = { bitOffset: base, bitSize: found.bitSize, type: found.type };
      cur = found.type;
    }
    return last;
  }

  private findMember(t: BtfType, name: string, depth: number): BtfMemberLocation | undefined {
    if (depth > 16 || !t.members) return undefined;
    for (const m of t.members) {
      const mt = this.type(m.type);
      if (!mt) continue;
      if (m.name === name) return { bitOffset: m.bitOffset, bitSize: m.bitSize, type: mt };
      if (m.name === '') {
        const inner = this.resolve(m.type);
        if (inner && (inner.kind === BTF_KIND.STRUCT || inner.kind === BTF_KIND.UNION)) {
          const hit = this.findMember(inner, name, depth + 1);
          if (hit) return { ...hit, bitOffset: m.bitOffset + hit.bitOffset };
        }
      }
    }
    return undefined;
  }

  /** The values of `enum name` (ENUM or ENUM64). */
  enumValues(name: string): readonly BtfEnumValue[] | undefined {
    const t = this.find(BTF_KIND.ENUM, name) ?? this.find(BTF_KIND.ENUM64, name);
    return t?.values;
  }
}

/** Offsets of the name_off fields inside a record's trailer, per entry, for the kinds whose entries have names. */
const ENTRY_NAMED = new Set<number>([BTF_KIND.STRUCT, BTF_KIND.UNION, BTF_KIND.ENUM, BTF_KIND.FUNC_PROTO, BTF_KIND.ENUM64]);

/**
 * Decodes a BTF blob. Throws DecodeError on a malformed blob (bad magic,
 * sections out of range, a type record cut short, an unknown kind, a name
 * offset outside the string section).
 */
export function decodeBtf(bytes: Uint8Array): Btf {
  const header = decodeBtfHeader(bytes);
  const strStart = header.hdrLen + header.strOff;
  const strings = bytes.subarray(strStart, strStart + header.strLen);
  const typeStart = header.hdrLen + header.typeOff;
  const r = new Reader(bytes.subarray(typeStart, typeStart + header.typeLen), 'btf type');
  const offsets: number[] = [0];
  const checkName = (off: number, at: number): void => {
    if (off !== 0 && off >= strings.byteLength) throw new DecodeError('btf', `name offset ${off} outside the string section (${strings.byteLength} bytes)`, typeStart + at);
  };
  while (r.remaining > 0) {
    const at = r.pos;
    const id = offsets.length;
    const nameOff = r.u32le('name_off');
    const info = r.u32le('info');
    r.u32le('size_or_type');
    const vlen = info & 0xffff;
    const kind = (info >>> 24) & 0x1f;
    const tr = TRAILER[kind];
    if (tr === undefined) return r.fail(`type ${id}: unknown kind ${kind}`, at);
    checkName(nameOff, at);
    r.need(tr.fixed + tr.each * vlen, `type ${id} data`);
    if (ENTRY_NAMED.has(kind)) {
      for (let i = 0; i < vlen; i++) checkName(r.view.getUint32(r.pos + tr.fixed + i * tr.each, true), r.pos);
    }
    r.skip(tr.fixed + tr.each * vlen);
    offsets.push(at);
  }
  const types = bytes.subarray(typeStart, typeStart + header.typeLen);
  return new Btf(header, new DataView(types.buffer, types.byteOffset, types.byteLength), strings, Uint32Array.from(offsets));
}
