/**
 * nfnetlink_log: packets logged by a netfilter `log group N` rule, delivered
 * over a NETLINK_NETFILTER socket (include/uapi/linux/netfilter/nfnetlink.h,
 * include/uapi/linux/netfilter/nfnetlink_log.h; the kernel side is
 * net/netfilter/nfnetlink_log.c).
 *
 * Every message starts with the netlink header and a struct nfgenmsg:
 *
 *   struct nfgenmsg { __u8 nfgen_family; __u8 version; __be16 res_id; };   // res_id = log group
 *
 * nlmsg_type is (subsystem << 8) | message: NFNL_SUBSYS_ULOG (4) with
 * NFULNL_MSG_PACKET (0, kernel -> user) or NFULNL_MSG_CONFIG (1, user -> kernel).
 *
 * Byte order: the netlink header and the attribute headers are host order
 * like all netlink; the attribute VALUES of nfnetlink_log are big-endian
 * (the kernel writes them with htonl/htons and nla_put_be32 without setting
 * NLA_F_NET_BYTEORDER), and so are the values the kernel reads from config
 * attributes (ntohl(nla_get_be32(...))). We encode them the same way,
 * without the flag, byte for byte as libnetfilter_log does.
 *
 * When the kernel batches several packets into one datagram (qthreshold > 1)
 * it ends the datagram with an NLMSG_DONE carrying an nfgenmsg;
 * decodeNflogDatagram skips it.
 */
import { Reader, type Mutable } from './reader.js';
import { type Attribute, NLA_HDRLEN, NLA_TYPE_MASK, nlaAlign, attributesLength, writeAttributes } from './netlink-attribute.js';
import { NLMSG_HDRLEN, NLM_F, nlmsgAlign, encodeMessage } from './netlink.js';

/** #define NFNETLINK_V0 0 */
export const NFNETLINK_V0 = 0;

/** Netfilter netlink subsystems used here (nfnetlink.h). */
export const NFNL_SUBSYS = {
  ULOG: 4, // #define NFNL_SUBSYS_ULOG 4
} as const;

/** enum nfulnl_msg_types */
export const NFULNL_MSG = {
  PACKET: 0, // NFULNL_MSG_PACKET: packet from kernel to userspace
  CONFIG: 1, // NFULNL_MSG_CONFIG: configure a log group
} as const;

/** Full nlmsg_type values: (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_*. */
export const NFLOG_MSG_TYPE = {
  PACKET: (NFNL_SUBSYS.ULOG << 8) | NFULNL_MSG.PACKET, // 0x0400
  CONFIG: (NFNL_SUBSYS.ULOG << 8) | NFULNL_MSG.CONFIG, // 0x0401
} as const;

/** enum nfulnl_attr_type: attributes of a PACKET message. */
export const NFULA = {
  PACKET_HDR: 1, // struct nfulnl_msg_packet_hdr
  MARK: 2, // __be32 nfmark
  TIMESTAMP: 3, // struct nfulnl_msg_packet_timestamp
  IFINDEX_INDEV: 4, // __be32 ifindex
  IFINDEX_OUTDEV: 5, // __be32 ifindex
  IFINDEX_PHYSINDEV: 6, // __be32 ifindex
  IFINDEX_PHYSOUTDEV: 7, // __be32 ifindex
  HWADDR: 8, // struct nfulnl_msg_packet_hw
  PAYLOAD: 9, // opaque data payload (the packet from its network header)
  PREFIX: 10, // NUL-terminated string prefix
  UID: 11, // __be32 user id of the socket
  SEQ: 12, // __be32 instance-local sequence number
  SEQ_GLOBAL: 13, // __be32 global sequence number
  GID: 14, // __be32 group id of the socket
  HWTYPE: 15, // __be16 hardware type (ARPHRD_*)
  HWHEADER: 16, // hardware header
  HWLEN: 17, // __be16 hardware header length
  CT: 18, // nested, nfnetlink_conntrack.h
  CT_INFO: 19, // __be32 enum ip_conntrack_info
  VLAN: 20, // nested packet vlan info
  L2HDR: 21, // full L2 header
} as const;

/** enum nfulnl_attr_config: attributes of a CONFIG message. */
export const NFULA_CFG = {
  CMD: 1, // struct nfulnl_msg_config_cmd { __u8 command; }
  MODE: 2, // struct nfulnl_msg_config_mode { __be32 copy_range; __u8 copy_mode; __u8 _pad; } (packed, 6 bytes)
  NLBUFSIZ: 3, // __be32 buffer size
  TIMEOUT: 4, // __be32 flush timeout in 1/100 s
  QTHRESH: 5, // __be32 packets queued before a flush
  FLAGS: 6, // __be16 NFULNL_CFG_F_*
} as const;

/** enum nfulnl_msg_config_cmds */
export const NFULNL_CFG_CMD = {
  NONE: 0, // NFULNL_CFG_CMD_NONE
  BIND: 1, // NFULNL_CFG_CMD_BIND: create the instance for res_id, owned by this socket
  UNBIND: 2, // NFULNL_CFG_CMD_UNBIND
  PF_BIND: 3, // NFULNL_CFG_CMD_PF_BIND: make nfnetlink_log the default logger of nfgen_family
  PF_UNBIND: 4, // NFULNL_CFG_CMD_PF_UNBIND
} as const;

/** Copy modes (NFULNL_COPY_*). */
export const NFULNL_COPY = {
  NONE: 0x00, // #define NFULNL_COPY_NONE 0x00
  META: 0x01, // #define NFULNL_COPY_META 0x01
  PACKET: 0x02, // #define NFULNL_COPY_PACKET 0x02
} as const;

/** Instance flags (NFULNL_CFG_F_*). */
export const NFULNL_CFG_F = {
  SEQ: 0x0001, // #define NFULNL_CFG_F_SEQ 0x0001
  SEQ_GLOBAL: 0x0002, // #define NFULNL_CFG_F_SEQ_GLOBAL 0x0002
  CONNTRACK: 0x0004, // #define NFULNL_CFG_F_CONNTRACK 0x0004
} as const;

/**
 * Largest copy range the kernel honours: nfnetlink_log.c
 * #define NFULNL_COPY_RANGE_MAX (0xFFFF - NLA_HDRLEN); larger values are clamped.
 */
export const NFULNL_COPY_RANGE_MAX = 0xffff - NLA_HDRLEN;

/** nfulnl_set_nlbufsiz() accepts [NLMSG_GOODSIZE, 131072] and silently ignores anything else. */
export const NFULNL_NLBUFSIZ_MAX = 131072;

/** sizeof(struct nfgenmsg) */
export const NFGENMSG_LEN = 4;

export interface Nfgenmsg {
  /** nfgen_family: AF_INET, AF_INET6, ... (NFPROTO_* for packets). */
  readonly family: number;
  readonly version: number;
  /** res_id (big-endian on the wire): the log group. */
  readonly resId: number;
}

export function encodeNfgenmsg(family: number, resId: number, version: number = NFNETLINK_V0): Uint8Array {
  return Uint8Array.of(family & 0xff, version & 0xff, (resId >>> 8) & 0xff, resId & 0xff);
}

export function decodeNfgenmsg(bytes: Uint8Array): Nfgenmsg {
  const r = new Reader(bytes, 'nfgenmsg');
  return { family: r.u8('nfgen_family'), version: r.u8('version'), resId: r.u16be('res_id') };
}

// ---------------------------------------------------------------------------
// Configuration messages (user -> kernel)

/** struct nfulnl_msg_config_mode */
export interface NflogCopyMode {
  /** NFULNL_COPY_* */
  readonly mode: number;
  /** Bytes of each packet to copy (0 with COPY_PACKET means the maximum). */
  readonly range: number;
}

/**
 * One NFULNL_MSG_CONFIG message. The kernel handles the command first (BIND
 * creates the instance), then each present parameter, all for group `group`.
 */
export interface NflogConfig {
  /** nfgen_family: AF_UNSPEC for group commands; AF_INET/AF_INET6 for PF_BIND/PF_UNBIND. */
  readonly family: number;
  /** res_id: the log group (0 for PF_BIND/PF_UNBIND). */
  readonly group: number;
  /** NFULA_CFG_CMD: NFULNL_CFG_CMD_* */
  readonly command?: number;
  /** NFULA_CFG_MODE */
  readonly copyMode?: NflogCopyMode;
  /** NFULA_CFG_NLBUFSIZ: bytes of the kernel's batching buffer. */
  readonly nlbufsiz?: number;
  /** NFULA_CFG_TIMEOUT: flush timeout in 1/100 s. */
  readonly timeout?: number;
  /** NFULA_CFG_QTHRESH: packets queued before the kernel flushes a batch. */
  readonly qthresh?: number;
  /** NFULA_CFG_FLAGS: NFULNL_CFG_F_* */
  readonly flags?: number;
  /** Attributes of other types, kept as received. */
  readonly attributes?: readonly Attribute[];
}

function be32(type: number, v: number): Attribute {
  const value = new Uint8Array(4);
  new DataView(value.buffer).setUint32(0, v >>> 0, false);
  return { type, flags: 0, value };
}

function be16(type: number, v: number): Attribute {
  return { type, flags: 0, value: Uint8Array.of((v >>> 8) & 0xff, v & 0xff) };
}

/** The attributes of a config message, in the order the kernel applies them. */
export function encodeNflogConfigAttributes(cfg: NflogConfig): Attribute[] {
  const attrs: Attribute[] = [];
  if (cfg.command !== undefined) attrs.push({ type: NFULA_CFG.CMD, flags: 0, value: Uint8Array.of(cfg.command & 0xff) });
  if (cfg.copyMode !== undefined) {
    // struct nfulnl_msg_config_mode is packed: 6 bytes, padded to 8 by the attribute.
    const value = new Uint8Array(6);
    new DataView(value.buffer).setUint32(0, cfg.copyMode.range >>> 0, false);
    value[4] = cfg.copyMode.mode & 0xff;
    attrs.push({ type: NFULA_CFG.MODE, flags: 0, value });
  }
  if (cfg.nlbufsiz !== undefined) attrs.push(be32(NFULA_CFG.NLBUFSIZ, cfg.nlbufsiz));
  if (cfg.timeout !== undefined) attrs.push(be32(NFULA_CFG.TIMEOUT, cfg.timeout));
  if (cfg.qthresh !== undefined) attrs.push(be32(NFULA_CFG.QTHRESH, cfg.qthresh));
  if (cfg.flags !== undefined) attrs.push(be16(NFULA_CFG.FLAGS, cfg.flags));
  if (cfg.attributes) attrs.push(...cfg.attributes);
  return attrs;
}

/**
 * A complete NFULNL_MSG_CONFIG message (nlmsghdr + nfgenmsg + attributes)
 * with NLM_F_REQUEST | NLM_F_ACK, ready to send. With `ack` false the kernel
 * answers only a failure (netlink_rcv_skb() acks errors regardless), which
 * suits a socket that is already receiving log messages.
 */
export function encodeNflogConfig(cfg: NflogConfig, seq = 0, pid = 0, ack = true): Uint8Array {
  return encodeMessage(
    { type: NFLOG_MSG_TYPE.CONFIG, flags: ack ? NLM_F.REQUEST | NLM_F.ACK : NLM_F.REQUEST, seq, pid },
    encodeNfgenmsg(cfg.family, cfg.group),
    encodeNflogConfigAttributes(cfg),
  );
}

/** Decodes a config message (header included), e.g. one quoted back or built by encodeNflogConfig. */
export function decodeNflogConfig(message: Uint8Array): NflogConfig {
  const r = new Reader(message, 'nflog config');
  const len = r.u32le('nlmsg_len');
  const type = r.u16le('nlmsg_type');
  if (type !== NFLOG_MSG_TYPE.CONFIG) r.fail(`nlmsg_type 0x${type.toString(16)} is not NFULNL_MSG_CONFIG`, 4);
  if (len < NLMSG_HDRLEN + NFGENMSG_LEN || len > message.byteLength) r.fail(`nlmsg_len ${len} does not fit the message`, 0);
  r.pos = NLMSG_HDRLEN;
  const family = r.u8('nfgen_family');
  r.u8('version');
  const group = r.u16be('res_id');
  const out: { -readonly [K in keyof NflogConfig]: NflogConfig[K] } = { family, group };
  let other: Attribute[] | undefined;
  const end = len;
  while (r.pos < end) {
    const a = nextAttribute(r, end);
    if (!a) break;
    const v = new Reader(a.value, 'nflog config attribute');
    switch (a.type) {
      case NFULA_CFG.CMD:
        out.command = v.u8('command');
        break;
      case NFULA_CFG.MODE: {
        const range = v.u32be('copy_range');
        out.copyMode = { range, mode: v.u8('copy_mode') };
        break;
      }
      case NFULA_CFG.NLBUFSIZ:
        out.nlbufsiz = v.u32be('nlbufsiz');
        break;
      case NFULA_CFG.TIMEOUT:
        out.timeout = v.u32be('timeout');
        break;
      case NFULA_CFG.QTHRESH:
        out.qthresh = v.u32be('qthresh');
        break;
      case NFULA_CFG.FLAGS:
        out.flags = v.u16be('flags');
        break;
      default:
        (other ??= []).push(a);
    }
  }
  if (other) out.attributes = other;
  return out;
}

/** Ready-made config messages for the usual sequence (bind, set mode, tune batching, unbind). */
export const nflogConfig = {
  /** NFULNL_CFG_CMD_BIND for `group`. */
  bind: (group: number): NflogConfig => ({ family: 0, group, command: NFULNL_CFG_CMD.BIND }),
  /** NFULNL_CFG_CMD_UNBIND for `group`. */
  unbind: (group: number): NflogConfig => ({ family: 0, group, command: NFULNL_CFG_CMD.UNBIND }),
  /** NFULNL_CFG_CMD_PF_BIND for an address family (obsolete since Linux 3.17 but accepted). */
  pfBind: (family: number): NflogConfig => ({ family, group: 0, command: NFULNL_CFG_CMD.PF_BIND }),
  pfUnbind: (family: number): NflogConfig => ({ family, group: 0, command: NFULNL_CFG_CMD.PF_UNBIND }),
  /** NFULA_CFG_MODE: copy mode and range. */
  mode: (group: number, mode: number, range: number): NflogConfig => ({ family: 0, group, copyMode: { mode, range } }),
  nlbufsiz: (group: number, bytes: number): NflogConfig => ({ family: 0, group, nlbufsiz: bytes }),
  /** Flush timeout in 1/100 s. */
  timeout: (group: number, centiseconds: number): NflogConfig => ({ family: 0, group, timeout: centiseconds }),
  qthresh: (group: number, packets: number): NflogConfig => ({ family: 0, group, qthresh: packets }),
  flags: (group: number, flags: number): NflogConfig => ({ family: 0, group, flags }),
} as const;

// ---------------------------------------------------------------------------
// Packet messages (kernel -> user)

/**
 * One logged packet. Byte fields are views into the received datagram (valid
 * as long as those bytes are; copy with copyNflogPacket to keep them).
 */
export interface NflogPacket {
  /** nfgen_family: NFPROTO_IPV4 (2), NFPROTO_IPV6 (10), NFPROTO_BRIDGE (7), ... */
  readonly family: number;
  /** res_id: the log group. */
  readonly group: number;
  /** nfulnl_msg_packet_hdr.hw_protocol: the EtherType (0x0800, 0x86dd). */
  readonly hwProtocol: number;
  /** nfulnl_msg_packet_hdr.hook: NF_INET_PRE_ROUTING (0), LOCAL_IN (1), FORWARD (2), LOCAL_OUT (3), POST_ROUTING (4). */
  readonly hook: number;
  /** NFULA_PREFIX without its NUL. */
  readonly prefix?: string;
  readonly indev?: number;
  readonly outdev?: number;
  readonly physindev?: number;
  readonly physoutdev?: number;
  /** NFULA_MARK (only sent when non-zero). */
  readonly mark?: number;
  /** NFULA_HWADDR: the source link-layer address (hw_addrlen bytes). */
  readonly hwaddr?: Uint8Array;
  /** NFULA_HWTYPE: ARPHRD_* of the input device. */
  readonly hwType?: number;
  /** NFULA_HWLEN: hard_header_len of the input device. */
  readonly hwLen?: number;
  /** NFULA_HWHEADER: the link-layer header. */
  readonly hwHeader?: Uint8Array;
  /** NFULA_TIMESTAMP as microseconds since the Unix epoch. */
  readonly timestamp?: number;
  readonly uid?: number;
  readonly gid?: number;
  /** NFULA_SEQ (with NFULNL_CFG_F_SEQ). */
  readonly seq?: number;
  /** NFULA_SEQ_GLOBAL (with NFULNL_CFG_F_SEQ_GLOBAL). */
  readonly seqGlobal?: number;
  /** NFULA_PAYLOAD: the packet from its network header, up to the copy range. */
  readonly payload?: Uint8Array;
  /** Other attributes (CT, CT_INFO, VLAN, L2HDR, unknown), as received. */
  readonly attributes?: readonly Attribute[];
}


/** Reads one attribute header at r.pos (bounded by `end`); undefined for trailing padding. */
function nextAttribute(r: Reader, end: number): Attribute | undefined {
  if (end - r.pos < NLA_HDRLEN) {
    // Up to 3 bytes of zero padding may follow the last attribute.
    for (let i = r.pos; i < end; i++) if (r.bytes[i] !== 0) r.fail(`${end - r.pos} trailing bytes are not an attribute header`);
    r.pos = end;
    return undefined;
  }
  const start = r.pos;
  const len = r.u16le('nla_len');
  const rawType = r.u16le('nla_type');
  if (len < NLA_HDRLEN) r.fail(`nla_len ${len} is shorter than the header`, start);
  if (start + len > end) r.fail(`nla_len ${len} runs past the end (${end - start} bytes left)`, start);
  r.pos = Math.min(start + nlaAlign(len), end);
  return {
    type: rawType & NLA_TYPE_MASK,
    flags: rawType & ~NLA_TYPE_MASK & 0xffff,
    value: r.bytes.subarray(start + NLA_HDRLEN, start + len),
  };
}

function needLen(r: Reader, start: number, len: number, n: number, field: string): void {
  if (len - NLA_HDRLEN < n) r.fail(`${field} has ${len - NLA_HDRLEN} bytes, needs ${n}`, start);
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/**
 * Decodes the body of one PACKET message: `bytes[start, end)` holds the
 * nfgenmsg and the attributes. Attributes are walked in place (no Attribute
 * objects for the known types) because this runs once per logged packet.
 */
function decodePacketBody(r: Reader, start: number, end: number): NflogPacket {
  r.pos = start;
  if (end - start < NFGENMSG_LEN) r.fail(`message body of ${end - start} bytes cannot hold struct nfgenmsg`);
  const family = r.u8('nfgen_family');
  r.u8('version');
  const group = r.u16be('res_id');
  const bytes = r.bytes;
  const view = r.view;
  const p: Mutable<NflogPacket> = { family, group, hwProtocol: 0, hook: 0 };
  let sawHeader = false;
  let other: Attribute[] | undefined;
  while (r.pos < end) {
    if (end - r.pos < NLA_HDRLEN) {
      for (let i = r.pos; i < end; i++) if (bytes[i] !== 0) r.fail(`${end - r.pos} trailing bytes are not an attribute header`);
      break;
    }
    const at = r.pos;
    const len = view.getUint16(at, true);
    const rawType = view.getUint16(at + 2, true);
    if (len < NLA_HDRLEN) r.fail(`nla_len ${len} is shorter than the header`, at);
    if (at + len > end) r.fail(`nla_len ${len} runs past the end (${end - at} bytes left)`, at);
    const v = at + NLA_HDRLEN;
    switch (rawType & NLA_TYPE_MASK) {
      case NFULA.PACKET_HDR:
        needLen(r, at, len, 3, 'NFULA_PACKET_HDR');
        p.hwProtocol = view.getUint16(v, false);
        p.hook = bytes[v + 2]!;
        sawHeader = true;
        break;
      case NFULA.PREFIX: {
        let stop = v;
        while (stop < at + len && bytes[stop] !== 0) stop++;
        // A rule without a prefix still sends "" (nfulnl_log_packet: strlen + 1); skip the decoder for it.
        p.prefix = stop === v ? '' : utf8.decode(bytes.subarray(v, stop));
        break;
      }
      case NFULA.IFINDEX_INDEV:
        needLen(r, at, len, 4, 'NFULA_IFINDEX_INDEV');
        p.indev = view.getUint32(v, false);
        break;
      case NFULA.IFINDEX_OUTDEV:
        needLen(r, at, len, 4, 'NFULA_IFINDEX_OUTDEV');
        p.outdev = view.getUint32(v, false);
        break;
      case NFULA.IFINDEX_PHYSINDEV:
        needLen(r, at, len, 4, 'NFULA_IFINDEX_PHYSINDEV');
        p.physindev = view.getUint32(v, false);
        break;
      case NFULA.IFINDEX_PHYSOUTDEV:
        needLen(r, at, len, 4, 'NFULA_IFINDEX_PHYSOUTDEV');
        p.physoutdev = view.getUint32(v, false);
        break;
      case NFULA.MARK:
        needLen(r, at, len, 4, 'NFULA_MARK');
        p.mark = view.getUint32(v, false);
        break;
      case NFULA.HWADDR: {
        // struct nfulnl_msg_packet_hw { __be16 hw_addrlen; __u16 _pad; __u8 hw_addr[8]; }
        needLen(r, at, len, 12, 'NFULA_HWADDR');
        const alen = view.getUint16(v, false);
        if (alen > 8) r.fail(`NFULA_HWADDR hw_addrlen ${alen} exceeds hw_addr[8]`, at);
        p.hwaddr = bytes.subarray(v + 4, v + 4 + alen);
        break;
      }
      case NFULA.HWTYPE:
        needLen(r, at, len, 2, 'NFULA_HWTYPE');
        p.hwType = view.getUint16(v, false);
        break;
      case NFULA.HWLEN:
        needLen(r, at, len, 2, 'NFULA_HWLEN');
        p.hwLen = view.getUint16(v, false);
        break;
      case NFULA.HWHEADER:
        p.hwHeader = bytes.subarray(v, at + len);
        break;
      case NFULA.TIMESTAMP: {
        // struct nfulnl_msg_packet_timestamp { __aligned_be64 sec; __aligned_be64 usec; }
        needLen(r, at, len, 16, 'NFULA_TIMESTAMP');
        // Seconds fit a double exactly until year 285 million; microseconds until 2255.
        const sec = view.getUint32(v, false) * 2 ** 32 + view.getUint32(v + 4, false);
        const usec = view.getUint32(v + 8, false) * 2 ** 32 + view.getUint32(v + 12, false);
        p.timestamp = sec * 1e6 + usec;
        break;
      }
      case NFULA.UID:
        needLen(r, at, len, 4, 'NFULA_UID');
        p.uid = view.getUint32(v, false);
        break;
      case NFULA.GID:
        needLen(r, at, len, 4, 'NFULA_GID');
        p.gid = view.getUint32(v, false);
        break;
      case NFULA.SEQ:
        needLen(r, at, len, 4, 'NFULA_SEQ');
        p.seq = view.getUint32(v, false);
        break;
      case NFULA.SEQ_GLOBAL:
        needLen(r, at, len, 4, 'NFULA_SEQ_GLOBAL');
        p.seqGlobal = view.getUint32(v, false);
        break;
      case NFULA.PAYLOAD:
        p.payload = bytes.subarray(v, at + len);
        break;
      default:
        (other ??= []).push({
          type: rawType & NLA_TYPE_MASK,
          flags: rawType & ~NLA_TYPE_MASK & 0xffff,
          value: bytes.subarray(v, at + len),
        });
    }
    r.pos = Math.min(at + nlaAlign(len), end);
  }
  if (!sawHeader) r.fail('NFULA_PACKET_HDR is missing', start);
  if (other) p.attributes = other;
  return p;
}

/**
 * Decodes one NFULNL_MSG_PACKET message (netlink header included), as found
 * at the start of `message`.
 */
export function decodeNflogPacket(message: Uint8Array): NflogPacket {
  const r = new Reader(message, 'nflog packet');
  const len = r.u32le('nlmsg_len');
  const type = r.u16le('nlmsg_type');
  if (type !== NFLOG_MSG_TYPE.PACKET) r.fail(`nlmsg_type 0x${type.toString(16)} is not NFULNL_MSG_PACKET`, 4);
  if (len < NLMSG_HDRLEN) r.fail(`nlmsg_len ${len} is shorter than the header`, 0);
  if (len > message.byteLength) r.fail(`nlmsg_len ${len} runs past the end (${message.byteLength} bytes)`, 0);
  return decodePacketBody(r, NLMSG_HDRLEN, len);
}

/**
 * Decodes every PACKET message of one datagram, appending to `out`; other
 * messages (the NLMSG_DONE that ends a batch, NLMSG_ERROR acks) are skipped.
 * Returns the number of packets appended. On malformed bytes it throws a
 * DecodeError, after appending the packets that came before them.
 */
export function decodeNflogDatagram(datagram: Uint8Array, out: NflogPacket[]): number {
  const r = new Reader(datagram, 'nflog packet');
  const view = r.view;
  const total = datagram.byteLength;
  let count = 0;
  let pos = 0;
  while (total - pos >= NLMSG_HDRLEN) {
    const len = view.getUint32(pos, true);
    const type = view.getUint16(pos + 4, true);
    if (len < NLMSG_HDRLEN) r.fail(`nlmsg_len ${len} is shorter than the header`, pos);
    if (pos + len > total) r.fail(`nlmsg_len ${len} runs past the end (${total - pos} bytes left)`, pos);
    if (type === NFLOG_MSG_TYPE.PACKET) {
      out.push(decodePacketBody(r, pos + NLMSG_HDRLEN, pos + len));
      count++;
    }
    pos += nlmsgAlign(len);
  }
  if (pos < total) r.fail(`${total - pos} trailing bytes are not a message header`, pos);
  return count;
}

/** Bytes the attributes of `p` take, in encodeNflogPacket's order. */
function packetAttributes(p: NflogPacket): Attribute[] {
  const attrs: Attribute[] = [];
  const hdr = new Uint8Array(4);
  hdr[0] = (p.hwProtocol >>> 8) & 0xff;
  hdr[1] = p.hwProtocol & 0xff;
  hdr[2] = p.hook & 0xff;
  attrs.push({ type: NFULA.PACKET_HDR, flags: 0, value: hdr });
  if (p.prefix !== undefined) {
    const s = new TextEncoder().encode(p.prefix);
    const value = new Uint8Array(s.byteLength + 1);
    value.set(s);
    attrs.push({ type: NFULA.PREFIX, flags: 0, value });
  }
  if (p.indev !== undefined) attrs.push(be32(NFULA.IFINDEX_INDEV, p.indev));
  if (p.physindev !== undefined) attrs.push(be32(NFULA.IFINDEX_PHYSINDEV, p.physindev));
  if (p.outdev !== undefined) attrs.push(be32(NFULA.IFINDEX_OUTDEV, p.outdev));
  if (p.physoutdev !== undefined) attrs.push(be32(NFULA.IFINDEX_PHYSOUTDEV, p.physoutdev));
  if (p.mark !== undefined) attrs.push(be32(NFULA.MARK, p.mark));
  if (p.hwaddr !== undefined) {
    if (p.hwaddr.byteLength > 8) throw new RangeError(`hwaddr of ${p.hwaddr.byteLength} bytes exceeds hw_addr[8]`);
    const value = new Uint8Array(12);
    value[0] = 0;
    value[1] = p.hwaddr.byteLength;
    value.set(p.hwaddr, 4);
    attrs.push({ type: NFULA.HWADDR, flags: 0, value });
  }
  if (p.hwType !== undefined) attrs.push(be16(NFULA.HWTYPE, p.hwType));
  if (p.hwLen !== undefined) attrs.push(be16(NFULA.HWLEN, p.hwLen));
  if (p.hwHeader !== undefined) attrs.push({ type: NFULA.HWHEADER, flags: 0, value: p.hwHeader });
  if (p.timestamp !== undefined) {
    const value = new Uint8Array(16);
    const dv = new DataView(value.buffer);
    const sec = Math.floor(p.timestamp / 1e6);
    const usec = p.timestamp - sec * 1e6;
    dv.setBigUint64(0, BigInt(sec), false);
    dv.setBigUint64(8, BigInt(usec), false);
    attrs.push({ type: NFULA.TIMESTAMP, flags: 0, value });
  }
  if (p.uid !== undefined) attrs.push(be32(NFULA.UID, p.uid));
  if (p.gid !== undefined) attrs.push(be32(NFULA.GID, p.gid));
  if (p.seq !== undefined) attrs.push(be32(NFULA.SEQ, p.seq));
  if (p.seqGlobal !== undefined) attrs.push(be32(NFULA.SEQ_GLOBAL, p.seqGlobal));
  if (p.attributes) attrs.push(...p.attributes);
  if (p.payload !== undefined) attrs.push({ type: NFULA.PAYLOAD, flags: 0, value: p.payload });
  return attrs;
}

/**
 * Encodes a PACKET message as the kernel builds it (__build_packet_message:
 * flags 0, seq 0, port 0). For tests and for replaying captured packets.
 */
export function encodeNflogPacket(p: NflogPacket): Uint8Array {
  const attrs = packetAttributes(p);
  const len = NLMSG_HDRLEN + NFGENMSG_LEN + attributesLength(attrs);
  const out = new Uint8Array(len);
  const v = new DataView(out.buffer);
  v.setUint32(0, len, true);
  v.setUint16(4, NFLOG_MSG_TYPE.PACKET, true);
  out.set(encodeNfgenmsg(p.family, p.group), NLMSG_HDRLEN);
  writeAttributes(out, NLMSG_HDRLEN + NFGENMSG_LEN, attrs);
  return out;
}

/**
 * A deep copy of `p` whose byte fields no longer alias the receive buffer.
 * (`new Uint8Array(view)` copies; `view.slice()` would not when the view is
 * a Node Buffer, as receive buffers often are.)
 */
export function copyNflogPacket(p: NflogPacket): NflogPacket {
  const out: Mutable<NflogPacket> = { ...p };
  if (p.hwaddr) out.hwaddr = new Uint8Array(p.hwaddr);
  if (p.hwHeader) out.hwHeader = new Uint8Array(p.hwHeader);
  if (p.payload) out.payload = new Uint8Array(p.payload);
  if (p.attributes) out.attributes = p.attributes.map((a) => ({ type: a.type, flags: a.flags, value: new Uint8Array(a.value) }));
  return out;
}
