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

/** A decoded BTF blob with lookups by name; strings are decoded on demand. */
export class Btf {
  readonly header: BtfHeader;
  /** Index = type id; [0] is void. */
  readonly types: readonly BtfType[];
  private byName?: Map<string, number[]>;

  constructor(header: BtfHeader, types: readonly BtfType[]) {
    this.header = header;
    this.types = types;
  }

  type(id: number): BtfType | undefined {
    return this.types[id];
  }

  /** Every type of `kind` called `name` (several structs may share a name in odd kernels). */
  findAll(kind: number, name: string): BtfType[] {
    if (!this.byName) {
      this.byName = new Map();
      for (const t of this.types) {
        if (!t.name) continue;
        const ids = this.byName.get(t.name);
        if (ids) ids.push(t.id);
        else this.byName.set(t.name, [t.id]);
      }
    }
    return (this.byName.get(name) ?? []).map((id) => this.types[id]!).filter((t) => t.kind === kind);
  }

  /** The first type of `kind` called `name`, preferring a complete struct over a forward declaration. */
  find(kind: number, name: string): BtfType | undefined {
    return this.findAll(kind, name)[0];
  }

  /** Follows typedefs and qualifiers to the type they name. */
  resolve(id: number): BtfType | undefined {
    let t = this.types[id];
    for (let hops = 0; t && MODIFIERS.has(t.kind) && hops < 32; hops++) t = this.types[t.type];
    return t;
  }

  /** Byte size of a type (pointers are 8 bytes: pathguard runs on 64-bit kernels only). */
  sizeof(id: number): number | undefined {
    const t = this.resolve(id);
    if (!t) return undefined;
    if (SIZED.has(t.kind)) return t.size;
    if (t.kind === BTF_KIND.PTR) return 8;
    if (t.kind === BTF_KIND.ARRAY) {
      const e = this.sizeof(t.type);
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
      const mt = this.types[m.type];
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

/**
 * Decodes a BTF blob. Throws DecodeError on a malformed blob (bad magic,
 * sections out of range, a type record cut short, an unknown kind, a name
 * offset outside the string section).
 */
export function decodeBtf(bytes: Uint8Array): Btf {
  const header = decodeBtfHeader(bytes);
  const strStart = header.hdrLen + header.strOff;
  const strings = bytes.subarray(strStart, strStart + header.strLen);
  const decoder = new TextDecoder('utf-8', { fatal: false });
  const nameAt = (off: number, at: number): string => {
    if (off === 0) return '';
    if (off >= strings.byteLength) throw new DecodeError('btf', `name offset ${off} outside the string section (${strings.byteLength} bytes)`, at);
    let end = off;
    while (end < strings.byteLength && strings[end] !== 0) end++;
    return decoder.decode(strings.subarray(off, end));
  };
  const typeStart = header.hdrLen + header.typeOff;
  const r = new Reader(bytes.subarray(typeStart, typeStart + header.typeLen), 'btf type');
  const types: BtfType[] = [{ id: 0, kind: BTF_KIND.UNKN, name: '', size: 0, type: 0 }];
  while (r.remaining > 0) {
    const at = r.pos;
    const id = types.length;
    const nameOff = r.u32le('name_off');
    const info = r.u32le('info');
    const sizeOrType = r.u32le('size_or_type');
    const vlen = info & 0xffff;
    const kind = (info >>> 24) & 0x1f;
    const kindFlag = info >>> 31 === 1;
    const tr = TRAILER[kind];
    if (tr === undefined) return r.fail(`type ${id}: unknown kind ${kind}`, at);
    r.need(tr.fixed + tr.each * vlen, `type ${id} data`);
    const name = nameAt(nameOff, typeStart + at);
    const sized = SIZED.has(kind);
    const base = { id, kind, name, size: sized ? sizeOrType : 0, type: sized ? 0 : sizeOrType };
    switch (kind) {
      case BTF_KIND.ARRAY: {
        const elem = r.u32le('array type');
        r.u32le('index_type');
        types.push({ ...base, type: elem, nelems: r.u32le('nelems') });
        break;
      }
      case BTF_KIND.STRUCT:
      case BTF_KIND.UNION: {
        const members: BtfMember[] = [];
        for (let i = 0; i < vlen; i++) {
          const mAt = typeStart + r.pos;
          const mName = nameAt(r.u32le('member name_off'), mAt);
          const mType = r.u32le('member type');
          const off = r.u32le('member offset');
          // kind_flag set: offset = bitfield_size << 24 | bit_offset (BTF_MEMBER_BITFIELD_SIZE/BIT_OFFSET)
          members.push(kindFlag ? { name: mName, type: mType, bitOffset: off & 0xffffff, bitSize: off >>> 24 } : { name: mName, type: mType, bitOffset: off, bitSize: 0 });
        }
        types.push({ ...base, members });
        break;
      }
      case BTF_KIND.ENUM: {
        const values: BtfEnumValue[] = [];
        for (let i = 0; i < vlen; i++) {
          const vAt = typeStart + r.pos;
          const vName = nameAt(r.u32le('enum name_off'), vAt);
          // kind_flag set: the values are signed
          const raw = r.u32le('enum val');
          values.push({ name: vName, value: kindFlag ? BigInt(raw | 0) : BigInt(raw) });
        }
        types.push({ ...base, values });
        break;
      }
      case BTF_KIND.ENUM64: {
        const values: BtfEnumValue[] = [];
        for (let i = 0; i < vlen; i++) {
          const vAt = typeStart + r.pos;
          const vName = nameAt(r.u32le('enum64 name_off'), vAt);
          const lo = BigInt(r.u32le('val_lo32'));
          const hi = BigInt(r.u32le('val_hi32'));
          const u = (hi << 32n) | lo;
          values.push({ name: vName, value: kindFlag ? BigInt.asIntN(64, u) : u });
        }
        types.push({ ...base, values });
        break;
      }
      default:
        r.skip(tr.fixed + tr.each * vlen);
        types.push(base);
    }
  }
  return new Btf(header, types);
}
