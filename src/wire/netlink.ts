/**
 * Netlink message framing (include/uapi/linux/netlink.h):
 *
 *   struct nlmsghdr {
 *     __u32 nlmsg_len;    // length of message including header
 *     __u16 nlmsg_type;   // message content
 *     __u16 nlmsg_flags;  // additional flags
 *     __u32 nlmsg_seq;    // sequence number
 *     __u32 nlmsg_pid;    // sending process port ID
 *   };
 *
 * A datagram from a netlink socket holds one or more messages, each aligned to
 * 4 bytes. NLMSG_ERROR carries a negative errno (0 = ACK), the request's header
 * (and payload unless NLM_F_CAPPED) and, with NETLINK_EXT_ACK, NLMSGERR_ATTR_*
 * attributes (NLM_F_ACK_TLVS). All fields are in host byte order
 * (little-endian here).
 */
import { Reader } from './reader.js';
import { type Attribute, decodeAttributes, findAttribute, nlaString, nlaU32, attributesLength, writeAttributes } from './netlink-attribute.js';

/** #define NLMSG_HDRLEN ((int) NLMSG_ALIGN(sizeof(struct nlmsghdr))) */
export const NLMSG_HDRLEN = 16;

/** #define NLMSG_ALIGN(len) (((len)+NLMSG_ALIGNTO-1) & ~(NLMSG_ALIGNTO-1)), NLMSG_ALIGNTO = 4 */
export function nlmsgAlign(len: number): number {
  return (len + 3) & ~3;
}

/** Protocol families of netlink sockets (socket(AF_NETLINK, SOCK_RAW, NETLINK_*)). */
export const NETLINK = {
  ROUTE: 0, // #define NETLINK_ROUTE 0
  NETFILTER: 12, // #define NETLINK_NETFILTER 12
} as const;

/** Standard message types. */
export const NLMSG = {
  NOOP: 0x1, // #define NLMSG_NOOP 0x1
  ERROR: 0x2, // #define NLMSG_ERROR 0x2
  DONE: 0x3, // #define NLMSG_DONE 0x3
  OVERRUN: 0x4, // #define NLMSG_OVERRUN 0x4
  MIN_TYPE: 0x10, // #define NLMSG_MIN_TYPE 0x10
} as const;

/** nlmsg_flags. Some bits mean different things for GET and NEW requests. */
export const NLM_F = {
  REQUEST: 0x01, // #define NLM_F_REQUEST 0x01
  MULTI: 0x02, // #define NLM_F_MULTI 0x02: part of a multipart reply ending with NLMSG_DONE
  ACK: 0x04, // #define NLM_F_ACK 0x04
  ECHO: 0x08, // #define NLM_F_ECHO 0x08
  DUMP_INTR: 0x10, // #define NLM_F_DUMP_INTR 0x10: the dump was inconsistent (state changed); dump again
  DUMP_FILTERED: 0x20, // #define NLM_F_DUMP_FILTERED 0x20
  // GET requests
  ROOT: 0x100, // #define NLM_F_ROOT 0x100
  MATCH: 0x200, // #define NLM_F_MATCH 0x200
  ATOMIC: 0x400, // #define NLM_F_ATOMIC 0x400
  DUMP: 0x300, // #define NLM_F_DUMP (NLM_F_ROOT|NLM_F_MATCH)
  // NEW requests
  REPLACE: 0x100, // #define NLM_F_REPLACE 0x100
  EXCL: 0x200, // #define NLM_F_EXCL 0x200
  CREATE: 0x400, // #define NLM_F_CREATE 0x400
  APPEND: 0x800, // #define NLM_F_APPEND 0x800
  // DELETE requests
  NONREC: 0x100, // #define NLM_F_NONREC 0x100
  BULK: 0x200, // #define NLM_F_BULK 0x200
  // ACK flags
  CAPPED: 0x100, // #define NLM_F_CAPPED 0x100: the error quotes only the request header
  ACK_TLVS: 0x200, // #define NLM_F_ACK_TLVS 0x200: extended ACK attributes follow
} as const;

/** enum nlmsgerr_attrs */
export const NLMSGERR_ATTR = {
  MSG: 1, // error message string
  OFFS: 2, // offset of the invalid attribute in the original message
  COOKIE: 3,
  POLICY: 4,
  MISS_TYPE: 5,
  MISS_NEST: 6,
} as const;

/** Socket options at level SOL_NETLINK (270). */
export const SOL_NETLINK = 270;
export const NETLINK_SOCKOPT = {
  ADD_MEMBERSHIP: 1, // #define NETLINK_ADD_MEMBERSHIP 1
  DROP_MEMBERSHIP: 2,
  PKTINFO: 3,
  BROADCAST_ERROR: 4,
  NO_ENOBUFS: 5,
  LISTEN_ALL_NSID: 8,
  CAP_ACK: 10, // #define NETLINK_CAP_ACK 10
  EXT_ACK: 11, // #define NETLINK_EXT_ACK 11
  GET_STRICT_CHK: 12, // #define NETLINK_GET_STRICT_CHK 12
} as const;

export interface NetlinkHeader {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly pid: number;
}

export interface NetlinkMessage extends NetlinkHeader {
  /** Everything after the 16-byte header, up to nlmsg_len (a view). */
  readonly payload: Uint8Array;
}

/**
 * Splits a datagram into messages. A length shorter than the header or one
 * that runs past the datagram is a DecodeError (the rest of the datagram
 * cannot be trusted).
 */
export function decodeMessages(bytes: Uint8Array): NetlinkMessage[] {
  const r = new Reader(bytes, 'nlmsghdr');
  const out: NetlinkMessage[] = [];
  while (r.remaining >= NLMSG_HDRLEN) {
    const start = r.pos;
    const len = r.u32le('nlmsg_len');
    const type = r.u16le('nlmsg_type');
    const flags = r.u16le('nlmsg_flags');
    const seq = r.u32le('nlmsg_seq');
    const pid = r.u32le('nlmsg_pid');
    if (len < NLMSG_HDRLEN) r.fail(`nlmsg_len ${len} is shorter than the header`, start);
    if (start + len > bytes.byteLength) {
      r.fail(`nlmsg_len ${len} runs past the end (${bytes.byteLength - start} bytes left)`, start);
    }
    out.push({ type, flags, seq, pid, payload: bytes.subarray(start + NLMSG_HDRLEN, start + len) });
    r.pos = Math.min(start + nlmsgAlign(len), bytes.byteLength);
  }
  if (r.remaining > 0) r.fail(`${r.remaining} trailing bytes are not a message header`);
  return out;
}

/**
 * Encodes one message: header, a fixed family header (ifinfomsg, rtmsg, ...)
 * padded to 4, then attributes. The length is computed first and the buffer
 * allocated once.
 */
export function encodeMessage(hdr: NetlinkHeader, fixed: Uint8Array, attrs: readonly Attribute[] = []): Uint8Array {
  const fixedLen = nlmsgAlign(fixed.byteLength);
  const len = NLMSG_HDRLEN + fixedLen + attributesLength(attrs);
  const out = new Uint8Array(len);
  const v = new DataView(out.buffer);
  v.setUint32(0, len, true);
  v.setUint16(4, hdr.type, true);
  v.setUint16(6, hdr.flags, true);
  v.setUint32(8, hdr.seq >>> 0, true);
  v.setUint32(12, hdr.pid >>> 0, true);
  out.set(fixed, NLMSG_HDRLEN);
  writeAttributes(out, NLMSG_HDRLEN + fixedLen, attrs);
  return out;
}

/** Rewrites the sequence number and port id of an encoded message in place. */
export function setSequence(msg: Uint8Array, seq: number, pid = 0): void {
  const v = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  v.setUint32(8, seq >>> 0, true);
  v.setUint32(12, pid >>> 0, true);
}

/** The payload of NLMSG_ERROR (struct nlmsgerr plus extended ACK attributes). */
export interface NetlinkErrorPayload {
  /** Positive errno; 0 for an ACK. */
  readonly errno: number;
  /** Header of the request this answers. */
  readonly request: NetlinkHeader;
  /** NLMSGERR_ATTR_MSG */
  readonly ackText?: string;
  /** NLMSGERR_ATTR_OFFS: offset of the offending attribute in the request. */
  readonly ackOffset?: number;
  readonly attributes: readonly Attribute[];
}

/**
 * Decodes NLMSG_ERROR's payload: `int error`, the request's nlmsghdr, then the
 * request's payload unless NLM_F_CAPPED, then TLVs if NLM_F_ACK_TLVS.
 */
export function decodeErrorPayload(msg: NetlinkMessage): NetlinkErrorPayload {
  const r = new Reader(msg.payload, 'nlmsgerr');
  const error = r.i32le('error');
  const reqStart = r.pos;
  const reqLen = r.u32le('nlmsg_len');
  const request: NetlinkHeader = {
    type: r.u16le('nlmsg_type'),
    flags: r.u16le('nlmsg_flags'),
    seq: r.u32le('nlmsg_seq'),
    pid: r.u32le('nlmsg_pid'),
  };
  let attributes: Attribute[] = [];
  if (msg.flags & NLM_F.ACK_TLVS) {
    // With NLM_F_CAPPED only the header was quoted; otherwise the whole request.
    const quoted = msg.flags & NLM_F.CAPPED ? NLMSG_HDRLEN : nlmsgAlign(reqLen);
    r.pos = reqStart;
    r.skip(quoted, 'quoted request');
    attributes = decodeAttributes(r.rest(), 'nlmsgerr attributes');
  }
  const out: { -readonly [K in keyof NetlinkErrorPayload]: NetlinkErrorPayload[K] } = {
    errno: error === 0 ? 0 : -error,
    request,
    attributes,
  };
  const text = findAttribute(attributes, NLMSGERR_ATTR.MSG);
  if (text) out.ackText = nlaString(text);
  const offs = findAttribute(attributes, NLMSGERR_ATTR.OFFS);
  if (offs) out.ackOffset = nlaU32(offs, 'nlmsgerr');
  return out;
}
