/**
 * rtnetlink policy-routing rules: RTM_NEWRULE / RTM_DELRULE / RTM_GETRULE.
 *
 *   struct fib_rule_hdr {              // include/uapi/linux/fib_rules.h, 12 bytes
 *     __u8  family;
 *     __u8  dst_len;
 *     __u8  src_len;
 *     __u8  tos;
 *     __u8  table;                     // RT_TABLE_COMPAT (252) when the id is above 255
 *     __u8  res1, res2;                // reserved, 0
 *     __u8  action;                    // FR_ACT_*
 *     __u32 flags;                     // FIB_RULE_*
 *   };
 *
 * followed by FRA_* attributes. FRA_TABLE (u32) wins over `table`.
 * FRA_SUPPRESS_PREFIXLEN and FRA_SUPPRESS_IFGROUP are signed: -1 means unset
 * (the kernel reports -1 on every rule); `suppress_prefixlength 0` is a real
 * value ("ignore a default route found in the table").
 */
import { type Attribute, decodeAttributes, nla } from './netlink-attribute.js';
import { type NetlinkMessage } from './netlink.js';
import { Reader, type Mutable } from './reader.js';
import {
  ADD_FLAGS,
  attrAddress,
  attrS32,
  attrString,
  attrU32,
  attrU8,
  checkInt32,
  checkRange,
  compatTable,
  DUMP_FLAGS,
  exactValue,
  expectMessageType,
  familyAddressLength,
  FR_ACT,
  keepAttribute,
  REQUEST_FLAGS,
  RT_TABLE,
  RTM,
  type RtnlRequest,
  stringAttribute,
} from './rtnetlink.js';

/** sizeof(struct fib_rule_hdr) */
export const FIB_RULE_HDR_LEN = 12;

/** Rule attributes (enum in include/uapi/linux/fib_rules.h). */
export const FRA = {
  UNSPEC: 0, // FRA_UNSPEC
  DST: 1, // FRA_DST
  SRC: 2, // FRA_SRC
  IIFNAME: 3, // FRA_IIFNAME (FRA_IFNAME)
  GOTO: 4, // FRA_GOTO (u32): target priority of FR_ACT_GOTO
  PRIORITY: 6, // FRA_PRIORITY (u32): `pref`
  FWMARK: 10, // FRA_FWMARK (u32)
  FLOW: 11, // FRA_FLOW (u32): realm
  TUN_ID: 12, // FRA_TUN_ID (be64)
  SUPPRESS_IFGROUP: 13, // FRA_SUPPRESS_IFGROUP (s32 in practice, -1 = unset)
  SUPPRESS_PREFIXLEN: 14, // FRA_SUPPRESS_PREFIXLEN (s32, -1 = unset)
  TABLE: 15, // FRA_TABLE (u32)
  FWMASK: 16, // FRA_FWMASK (u32)
  OIFNAME: 17, // FRA_OIFNAME
  PAD: 18, // FRA_PAD
  L3MDEV: 19, // FRA_L3MDEV (u8): look up the table of the l3mdev (VRF) the packet came through
  UID_RANGE: 20, // FRA_UID_RANGE (struct fib_rule_uid_range)
  PROTOCOL: 21, // FRA_PROTOCOL (u8): RTPROT_* of whoever installed the rule
  IP_PROTO: 22, // FRA_IP_PROTO (u8)
  SPORT_RANGE: 23, // FRA_SPORT_RANGE (struct fib_rule_port_range)
  DPORT_RANGE: 24, // FRA_DPORT_RANGE (struct fib_rule_port_range)
} as const;

/** struct fib_rule_uid_range { __u32 start; __u32 end; } */
export interface UidRange {
  readonly start: number;
  readonly end: number;
}

/** struct fib_rule_port_range { __u16 start; __u16 end; } */
export interface PortRange {
  readonly start: number;
  readonly end: number;
}

export interface Rule {
  /** family: AF_INET / AF_INET6 */
  readonly family: number;
  /** dst_len */
  readonly dstLen: number;
  /** src_len */
  readonly srcLen: number;
  /** tos */
  readonly tos: number;
  /** FRA_TABLE when present, else the header's table when not 0 (absent = none given). */
  readonly table?: number;
  /** action: FR_ACT_* */
  readonly action: number;
  /** flags: FIB_RULE_* (FIB_RULE_INVERT = `not`) */
  readonly flags: number;
  /** FRA_PRIORITY: `pref` */
  readonly priority?: number;
  /** FRA_SRC */
  readonly src?: Uint8Array;
  /** FRA_DST */
  readonly dst?: Uint8Array;
  /** FRA_FWMARK */
  readonly fwmark?: number;
  /** FRA_FWMASK */
  readonly fwmask?: number;
  /** FRA_IIFNAME */
  readonly iifname?: string;
  /** FRA_OIFNAME */
  readonly oifname?: string;
  /** FRA_SUPPRESS_PREFIXLEN (signed; -1 = unset). */
  readonly suppressPrefixlen?: number;
  /** FRA_SUPPRESS_IFGROUP (signed; -1 = unset). */
  readonly suppressIfgroup?: number;
  /** FRA_GOTO */
  readonly goto?: number;
  /** FRA_PROTOCOL: RTPROT_* */
  readonly protocol?: number;
  /** FRA_L3MDEV */
  readonly l3mdev?: number;
  /** FRA_UID_RANGE */
  readonly uidRange?: UidRange;
  /** FRA_IP_PROTO */
  readonly ipProto?: number;
  /** FRA_SPORT_RANGE */
  readonly sportRange?: PortRange;
  /** FRA_DPORT_RANGE */
  readonly dportRange?: PortRange;
  readonly unknown: readonly Attribute[];
}


const WHAT = 'fib_rule_hdr';

/** Decodes RTM_NEWRULE / RTM_DELRULE (and RTM_GETRULE requests). */
export function decodeRule(msg: NetlinkMessage): Rule {
  expectMessageType(msg, [RTM.NEWRULE, RTM.DELRULE, RTM.GETRULE], WHAT);
  const r = new Reader(msg.payload, WHAT);
  const family = r.u8('family');
  const dstLen = r.u8('dst_len');
  const srcLen = r.u8('src_len');
  const tos = r.u8('tos');
  const hdrTable = r.u8('table');
  r.skip(2, 'res1, res2'); // reserved: ignored here, written as 0
  const rule: Mutable<Rule> = { family, dstLen, srcLen, tos, action: r.u8('action'), flags: r.u32le('flags'), unknown: [] };
  if (hdrTable !== RT_TABLE.UNSPEC) rule.table = hdrTable;
  const unknown: Attribute[] = [];
  for (const a of decodeAttributes(r.rest(), WHAT)) {
    switch (a.type) {
      case FRA.TABLE:
        rule.table = attrU32(a, WHAT);
        break;
      case FRA.PRIORITY:
        rule.priority = attrU32(a, WHAT);
        break;
      case FRA.SRC:
        rule.src = attrAddress(a, family, WHAT);
        break;
      case FRA.DST:
        rule.dst = attrAddress(a, family, WHAT);
        break;
      case FRA.FWMARK:
        rule.fwmark = attrU32(a, WHAT);
        break;
      case FRA.FWMASK:
        rule.fwmask = attrU32(a, WHAT);
        break;
      case FRA.IIFNAME:
        rule.iifname = attrString(a, WHAT);
        break;
      case FRA.OIFNAME:
        rule.oifname = attrString(a, WHAT);
        break;
      case FRA.SUPPRESS_PREFIXLEN:
        rule.suppressPrefixlen = attrS32(a, WHAT);
        break;
      case FRA.SUPPRESS_IFGROUP:
        rule.suppressIfgroup = attrS32(a, WHAT);
        break;
      case FRA.GOTO:
        rule.goto = attrU32(a, WHAT);
        break;
      case FRA.PROTOCOL:
        rule.protocol = attrU8(a, WHAT);
        break;
      case FRA.L3MDEV:
        rule.l3mdev = attrU8(a, WHAT);
        break;
      case FRA.IP_PROTO:
        rule.ipProto = attrU8(a, WHAT);
        break;
      case FRA.UID_RANGE: {
        const v = exactValue(a, 8, WHAT);
        rule.uidRange = { start: v.getUint32(0, true), end: v.getUint32(4, true) };
        break;
      }
      case FRA.SPORT_RANGE:
        rule.sportRange = decodePortRange(a);
        break;
      case FRA.DPORT_RANGE:
        rule.dportRange = decodePortRange(a);
        break;
      default:
        unknown.push(keepAttribute(a));
    }
  }
  rule.unknown = unknown;
  return rule;
}

function decodePortRange(a: Attribute): PortRange {
  const v = exactValue(a, 4, WHAT);
  return { start: v.getUint16(0, true), end: v.getUint16(2, true) };
}

/** Encodes a rule into its fib_rule_hdr and attributes (for encodeMessage or the socket). */
export function encodeRule(rule: Rule): { fixed: Uint8Array; attrs: Attribute[] } {
  const fixed = new Uint8Array(FIB_RULE_HDR_LEN);
  const v = new DataView(fixed.buffer);
  const table = rule.table;
  v.setUint8(0, checkRange(rule.family, 0xff, 'rule.family'));
  v.setUint8(1, checkRange(rule.dstLen, 0xff, 'rule.dstLen'));
  v.setUint8(2, checkRange(rule.srcLen, 0xff, 'rule.srcLen'));
  v.setUint8(3, checkRange(rule.tos, 0xff, 'rule.tos'));
  v.setUint8(4, compatTable(table, 'rule.table'));
  v.setUint8(7, checkRange(rule.action, 0xff, 'rule.action'));
  v.setUint32(8, checkRange(rule.flags, 0xffffffff, 'rule.flags'), true);

  const len = familyAddressLength(rule.family);
  const ip = (type: number, bytes: Uint8Array, field: string): Attribute => {
    if (len !== undefined && bytes.byteLength !== len) throw new RangeError(`${field} must be ${len} bytes for family ${rule.family}`);
    return nla.bytes(type, bytes);
  };
  const u32 = (type: number, n: number, field: string): Attribute => nla.u32(type, checkRange(n, 0xffffffff, field));
  const s32 = (type: number, n: number, field: string): Attribute => nla.u32(type, checkInt32(n, field) >>> 0);
  const attrs: Attribute[] = [];
  if (table !== undefined) attrs.push(nla.u32(FRA.TABLE, table));
  if (rule.priority !== undefined) attrs.push(u32(FRA.PRIORITY, rule.priority, 'rule.priority'));
  if (rule.src !== undefined) attrs.push(ip(FRA.SRC, rule.src, 'rule.src'));
  if (rule.dst !== undefined) attrs.push(ip(FRA.DST, rule.dst, 'rule.dst'));
  if (rule.fwmark !== undefined) attrs.push(u32(FRA.FWMARK, rule.fwmark, 'rule.fwmark'));
  if (rule.fwmask !== undefined) attrs.push(u32(FRA.FWMASK, rule.fwmask, 'rule.fwmask'));
  if (rule.iifname !== undefined) attrs.push(stringAttribute(FRA.IIFNAME, rule.iifname, 'rule.iifname'));
  if (rule.oifname !== undefined) attrs.push(stringAttribute(FRA.OIFNAME, rule.oifname, 'rule.oifname'));
  if (rule.suppressPrefixlen !== undefined) attrs.push(s32(FRA.SUPPRESS_PREFIXLEN, rule.suppressPrefixlen, 'rule.suppressPrefixlen'));
  if (rule.suppressIfgroup !== undefined) attrs.push(s32(FRA.SUPPRESS_IFGROUP, rule.suppressIfgroup, 'rule.suppressIfgroup'));
  if (rule.goto !== undefined) attrs.push(u32(FRA.GOTO, rule.goto, 'rule.goto'));
  if (rule.protocol !== undefined) attrs.push(nla.u8(FRA.PROTOCOL, checkRange(rule.protocol, 0xff, 'rule.protocol')));
  if (rule.l3mdev !== undefined) attrs.push(nla.u8(FRA.L3MDEV, checkRange(rule.l3mdev, 0xff, 'rule.l3mdev')));
  if (rule.ipProto !== undefined) attrs.push(nla.u8(FRA.IP_PROTO, checkRange(rule.ipProto, 0xff, 'rule.ipProto')));
  if (rule.uidRange !== undefined) {
    const value = new Uint8Array(8);
    const rv = new DataView(value.buffer);
    rv.setUint32(0, checkRange(rule.uidRange.start, 0xffffffff, 'rule.uidRange.start'), true);
    rv.setUint32(4, checkRange(rule.uidRange.end, 0xffffffff, 'rule.uidRange.end'), true);
    attrs.push(nla.bytes(FRA.UID_RANGE, value));
  }
  if (rule.sportRange !== undefined) attrs.push(encodePortRange(FRA.SPORT_RANGE, rule.sportRange, 'rule.sportRange'));
  if (rule.dportRange !== undefined) attrs.push(encodePortRange(FRA.DPORT_RANGE, rule.dportRange, 'rule.dportRange'));
  attrs.push(...rule.unknown);
  return { fixed, attrs };
}

function encodePortRange(type: number, range: PortRange, field: string): Attribute {
  const value = new Uint8Array(4);
  const v = new DataView(value.buffer);
  v.setUint16(0, checkRange(range.start, 0xffff, `${field}.start`), true);
  v.setUint16(2, checkRange(range.end, 0xffff, `${field}.end`), true);
  return nla.bytes(type, value);
}

// ---- requests ----

/** A rule to add or delete: the family and whatever is set. */
export type RuleSpec = Partial<Rule> & Pick<Rule, 'family'>;

function fromSpec(spec: RuleSpec, forDelete: boolean): Rule {
  return {
    ...spec,
    dstLen: spec.dstLen ?? (spec.dst ? spec.dst.byteLength * 8 : 0),
    srcLen: spec.srcLen ?? (spec.src ? spec.src.byteLength * 8 : 0),
    tos: spec.tos ?? 0,
    // iproute2 (ip/iprule.c): an added rule without an action looks up a table, main unless given.
    action: spec.action ?? (forDelete ? FR_ACT.UNSPEC : FR_ACT.TO_TBL),
    table: spec.table ?? (forDelete || (spec.action !== undefined && spec.action !== FR_ACT.TO_TBL) ? undefined : RT_TABLE.MAIN),
    flags: spec.flags ?? 0,
    unknown: spec.unknown ?? [],
  };
}

/**
 * Every rule of `family`.
 * Equivalent to: `ip -4 rule show` / `ip -6 rule show`.
 */
export function dumpRules(family: number): RtnlRequest {
  const fixed = new Uint8Array(FIB_RULE_HDR_LEN);
  fixed[0] = checkRange(family, 0xff, 'family');
  return { type: RTM.GETRULE, flags: DUMP_FLAGS, fixed, attrs: [] };
}

/**
 * Adds a rule; EEXIST if an identical one exists (kernel ≥ 4.18 compares
 * every field, rule_exists()).
 * Equivalent to: `ip rule add from 203.0.113.0/24 lookup 20 pref 20 proto 240`
 * (RTM_NEWRULE, NLM_F_CREATE|NLM_F_EXCL).
 */
export function addRule(spec: RuleSpec): RtnlRequest {
  const { fixed, attrs } = encodeRule(fromSpec(spec, false));
  return { type: RTM.NEWRULE, flags: ADD_FLAGS, fixed, attrs };
}

/**
 * Deletes the first rule that matches every field given (rule_find(): each
 * set field must match, unset ones match anything), so passing a rule as
 * dumped deletes exactly that rule. ENOENT when none matches.
 * Equivalent to: `ip rule del from 203.0.113.0/24 lookup 20 pref 20 proto 240` (RTM_DELRULE).
 */
export function delRule(spec: RuleSpec): RtnlRequest {
  const { fixed, attrs } = encodeRule(fromSpec(spec, true));
  return { type: RTM.DELRULE, flags: REQUEST_FLAGS, fixed, attrs };
}
