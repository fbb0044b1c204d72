/**
 * Netlink attributes (struct nlattr, include/uapi/linux/netlink.h):
 *
 *   struct nlattr { __u16 nla_len; __u16 nla_type; };   // then the value, padded to 4
 *
 * nla_len counts the 4-byte header and the value but not the padding. The two
 * top bits of nla_type are flags: NLA_F_NESTED (the value is itself a list of
 * attributes) and NLA_F_NET_BYTEORDER (the value is big-endian). Netlink is in
 * host byte order, which is little-endian on every platform pathguard runs on.
 *
 * Decoding is total: a truncated header, a length shorter than the header or
 * one that runs past the buffer is a DecodeError ("don't allow misleading
 * length"). Unknown types are kept, so decode -> encode is lossless.
 */
import { Reader } from './reader.js';
import { DecodeError } from '../errors.js';

/** #define NLA_F_NESTED (1 << 15) */
export const NLA_F_NESTED = 0x8000;
/** #define NLA_F_NET_BYTEORDER (1 << 14) */
export const NLA_F_NET_BYTEORDER = 0x4000;
/** #define NLA_TYPE_MASK ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) */
export const NLA_TYPE_MASK = 0x3fff;
/** #define NLA_HDRLEN ((int) NLA_ALIGN(sizeof(struct nlattr))) */
export const NLA_HDRLEN = 4;

/** #define NLA_ALIGN(len) (((len) + NLA_ALIGNTO - 1) & ~(NLA_ALIGNTO - 1)), NLA_ALIGNTO = 4 */
export function nlaAlign(len: number): number {
  return (len + 3) & ~3;
}

export interface Attribute {
  /** Type without the flag bits. */
  readonly type: number;
  /** NLA_F_NESTED | NLA_F_NET_BYTEORDER bits as received or to be sent. */
  readonly flags: number;
  /** The value (a view into the message when decoded). */
  readonly value: Uint8Array;
}

/** Decodes every attribute in `bytes` (a message's attribute area or a nested value). */
export function decodeAttributes(bytes: Uint8Array, what = 'nlattr'): Attribute[] {
  const r = new Reader(bytes, what);
  const out: Attribute[] = [];
  while (r.remaining > 0) {
    // The kernel tolerates up to 3 bytes of trailing padding after the last attribute.
    if (r.remaining < NLA_HDRLEN) {
      if (bytes.subarray(r.pos).every((b) => b === 0)) break;
      r.fail(`${r.remaining} trailing bytes are not an attribute header`);
    }
    const start = r.pos;
    const len = r.u16le('nla_len');
    const rawType = r.u16le('nla_type');
    if (len < NLA_HDRLEN) r.fail(`nla_len ${len} is shorter than the header`, start);
    if (start + len > bytes.byteLength) {
      r.fail(`nla_len ${len} runs past the end (${bytes.byteLength - start} bytes left)`, start);
    }
    out.push({
      type: rawType & NLA_TYPE_MASK,
      flags: rawType & ~NLA_TYPE_MASK & 0xffff,
      value: bytes.subarray(start + NLA_HDRLEN, start + len),
    });
    // The last attribute may omit its padding.
    r.pos = Math.min(start + nlaAlign(len), bytes.byteLength);
  }
  return out;
}

/** Bytes `attrs` take on the wire, padding included. */
export function attributesLength(attrs: readonly Attribute[]): number {
  let n = 0;
  for (const a of attrs) n += nlaAlign(NLA_HDRLEN + a.value.byteLength);
  return n;
}

/** Writes `attrs` into `out` at `offset`; returns the offset after the last one. */
export function writeAttributes(out: Uint8Array, offset: number, attrs: readonly Attribute[]): number {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let pos = offset;
  for (const a of attrs) {
    const len = NLA_HDRLEN + a.value.byteLength;
    if (len > 0xffff) throw new RangeError(`attribute ${a.type} is ${len} bytes, more than nla_len can hold`);
    view.setUint16(pos, len, true);
    view.setUint16(pos + 2, (a.type & NLA_TYPE_MASK) | a.flags, true);
    out.set(a.value, pos + NLA_HDRLEN);
    out.fill(0, pos + len, pos + nlaAlign(len));
    pos += nlaAlign(len);
  }
  return pos;
}

/** Encodes `attrs` into a new buffer (allocated once). */
export function encodeAttributes(attrs: readonly Attribute[]): Uint8Array {
  const out = new Uint8Array(attributesLength(attrs));
  writeAttributes(out, 0, attrs);
  return out;
}

/** Finds the first attribute of `type`. */
export function findAttribute(attrs: readonly Attribute[], type: number): Attribute | undefined {
  for (const a of attrs) if (a.type === type) return a;
  return undefined;
}

// ---- value builders (for encoding) ----

export const nla = {
  u8(type: number, v: number): Attribute {
    return { type, flags: 0, value: Uint8Array.of(v & 0xff) };
  },
  u16(type: number, v: number): Attribute {
    const value = new Uint8Array(2);
    new DataView(value.buffer).setUint16(0, v, true);
    return { type, flags: 0, value };
  },
  u32(type: number, v: number): Attribute {
    const value = new Uint8Array(4);
    new DataView(value.buffer).setUint32(0, v >>> 0, true);
    return { type, flags: 0, value };
  },
  /** A big-endian u32, flagged NLA_F_NET_BYTEORDER (nfnetlink uses these). */
  u32be(type: number, v: number): Attribute {
    const value = new Uint8Array(4);
    new DataView(value.buffer).setUint32(0, v >>> 0, false);
    return { type, flags: NLA_F_NET_BYTEORDER, value };
  },
  /** A NUL-terminated string (NLA_NUL_STRING / NLA_STRING as the kernel expects for names). */
  string(type: number, s: string): Attribute {
    const enc = new TextEncoder().encode(s);
    const value = new Uint8Array(enc.byteLength + 1);
    value.set(enc);
    return { type, flags: 0, value };
  },
  bytes(type: number, value: Uint8Array): Attribute {
    return { type, flags: 0, value };
  },
  flag(type: number): Attribute {
    return { type, flags: 0, value: new Uint8Array(0) };
  },
  nested(type: number, attrs: readonly Attribute[]): Attribute {
    return { type, flags: NLA_F_NESTED, value: encodeAttributes(attrs) };
  },
} as const;

// ---- value readers (for decoding); each checks the length it needs ----

function expectLen(a: Attribute, n: number, what: string): DataView {
  if (a.value.byteLength < n) {
    throw new DecodeError(what, `attribute ${a.type} has ${a.value.byteLength} bytes, needs ${n}`, 0);
  }
  return new DataView(a.value.buffer, a.value.byteOffset, a.value.byteLength);
}

export function nlaU8(a: Attribute, what = 'nlattr'): number {
  return expectLen(a, 1, what).getUint8(0);
}
export function nlaU16(a: Attribute, what = 'nlattr'): number {
  return expectLen(a, 2, what).getUint16(0, true);
}
export function nlaU32(a: Attribute, what = 'nlattr'): number {
  return expectLen(a, 4, what).getUint32(0, true);
}
export function nlaS32(a: Attribute, what = 'nlattr'): number {
  return expectLen(a, 4, what).getInt32(0, true);
}
export function nlaU64(a: Attribute, what = 'nlattr'): bigint {
  return expectLen(a, 8, what).getBigUint64(0, true);
}
export function nlaU16be(a: Attribute, what = 'nlattr'): number {
  return expectLen(a, 2, what).getUint16(0, false);
}
export function nlaU32be(a: Attribute, what = 'nlattr'): number {
  return expectLen(a, 4, what).getUint32(0, false);
}
export function nlaU64be(a: Attribute, what = 'nlattr'): bigint {
  return expectLen(a, 8, what).getBigUint64(0, false);
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** A string attribute up to its first NUL (or the whole value when none). */
export function nlaString(a: Attribute): string {
  const nul = a.value.indexOf(0);
  return utf8.decode(nul === -1 ? a.value : a.value.subarray(0, nul));
}

/** The attributes nested in `a`. */
export function nlaNested(a: Attribute, what = 'nlattr'): Attribute[] {
  return decodeAttributes(a.value, what);
}
