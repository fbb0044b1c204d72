/**
 * A bounds-checked cursor over a byte view. Every codec reads through one of
 * these, so no decoder can read past the buffer it was given: a short read is
 * a DecodeError naming the object being decoded and the offset.
 *
 * The DataView is built with the view's own byteOffset and byteLength (a
 * pooled Buffer shares one large ArrayBuffer; ignoring byteOffset reads
 * someone else's bytes).
 */
import { DecodeError } from '../errors.js';

/** A decoded object while its decoder fills it in (the result is handed out readonly). */
export type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export class Reader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** Name of the object being decoded, used in errors ("ipv4", "nlmsghdr"). */
  readonly what: string;
  pos: number;

  constructor(bytes: Uint8Array, what: string, pos = 0) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.what = what;
    this.pos = pos;
  }

  get length(): number {
    return this.bytes.byteLength;
  }

  get remaining(): number {
    return this.bytes.byteLength - this.pos;
  }

  fail(message: string, at: number = this.pos): never {
    throw new DecodeError(this.what, message, at);
  }

  /** Throws unless `n` more bytes are available. */
  need(n: number, field = 'data'): void {
    if (n < 0 || this.pos + n > this.bytes.byteLength) {
      this.fail(`${field} needs ${n} bytes, ${this.remaining} left`);
    }
  }

  u8(field?: string): number {
    this.need(1, field);
    return this.view.getUint8(this.pos++);
  }

  /** Network byte order (big-endian). */
  u16be(field?: string): number {
    this.need(2, field);
    const v = this.view.getUint16(this.pos, false);
    this.pos += 2;
    return v;
  }

  u32be(field?: string): number {
    this.need(4, field);
    const v = this.view.getUint32(this.pos, false);
    this.pos += 4;
    return v;
  }

  /** Host byte order, as netlink uses (little-endian on every platform pathguard runs on). */
  u16le(field?: string): number {
    this.need(2, field);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  u32le(field?: string): number {
    this.need(4, field);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  i32le(field?: string): number {
    this.need(4, field);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u64le(field?: string): bigint {
    this.need(8, field);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  u64be(field?: string): bigint {
    this.need(8, field);
    const v = this.view.getBigUint64(this.pos, false);
    this.pos += 8;
    return v;
  }

  /** A subarray (no copy) of the next `n` bytes. */
  take(n: number, field?: string): Uint8Array {
    this.need(n, field);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  skip(n: number, field?: string): void {
    this.need(n, field);
    this.pos += n;
  }

  /** The rest of the buffer (no copy). */
  rest(): Uint8Array {
    const out = this.bytes.subarray(this.pos);
    this.pos = this.bytes.byteLength;
    return out;
  }
}
