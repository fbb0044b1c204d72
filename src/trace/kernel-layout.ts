/**
 * Where the fields the tracer reads sit in the running kernel's structs, and
 * the names of its drop reasons, all from BTF (/sys/kernel/btf/vmlinux).
 * Nothing here is a table of offsets or reason numbers: sk_buff is
 * rearranged and enum skb_drop_reason renumbered between kernel versions.
 */
import { BTF_KIND, type Btf, type BtfType } from '../wire/btf.js';
import type { Fib6Layout, FibLayout } from './program.js';
import { UnsupportedError } from '../errors.js';

/** Byte offsets and sizes of the fields the BPF programs read. */
export interface KernelLayout {
  readonly skb: {
    readonly head: number;
    readonly data: number;
    readonly networkHeader: number;
    readonly len: number;
    readonly mark: number;
    readonly dev: number;
    readonly protocol: number;
  };
  readonly netDevice: {
    readonly ifindex: number;
    readonly name: number;
    /** net_device.nd_net.net: a struct net pointer (possible_net_t). */
    readonly ndNet: number;
  };
  /** net.ns.inum: the namespace's inode number, as in /proc/PID/ns/net. */
  readonly netInum: number;
}

/** Drop reason number → name without the SKB_DROP_REASON_ prefix (PKT_TOO_BIG). */
export type DropReasons = ReadonlyMap<number, string>;

function struct(btf: Btf, name: string): BtfType {
  const t = btf.findAll(BTF_KIND.STRUCT, name).find((s) => (s.members?.length ?? 0) > 0);
  if (!t) throw new UnsupportedError('BTF', `the kernel's BTF has no struct ${name}`);
  return t;
}

function offset(btf: Btf, s: BtfType, path: readonly string[], size?: number): number {
  const m = btf.member(s, path);
  const field = `${s.name}.${path.join('.')}`;
  if (!m) throw new UnsupportedError('BTF', `the kernel's BTF has no member ${field}`);
  if (m.bitSize !== 0 || m.bitOffset % 8 !== 0) throw new UnsupportedError('BTF', `${field} is a bitfield; the tracer reads whole bytes`);
  if (size !== undefined) {
    const got = btf.sizeof(m.type.id);
    if (got !== size) throw new UnsupportedError('BTF', `${field} is ${got} bytes, expected ${size}`);
  }
  return m.bitOffset / 8;
}

/** Resolves every offset; UnsupportedError names the first field the kernel lacks. */
export function kernelLayout(btf: Btf): KernelLayout {
  const skb = struct(btf, 'sk_buff');
  const dev = struct(btf, 'net_device');
  const net = struct(btf, 'net');
  return {
    skb: {
      head: offset(btf, skb, ['head'], 8),
      data: offset(btf, skb, ['data'], 8),
      networkHeader: offset(btf, skb, ['network_header'], 2),
      len: offset(btf, skb, ['len'], 4),
      mark: offset(btf, skb, ['mark'], 4),
      dev: offset(btf, skb, ['dev'], 8),
      protocol: offset(btf, skb, ['protocol'], 2),
    },
    netDevice: {
      ifindex: offset(btf, dev, ['ifindex'], 4),
      name: offset(btf, dev, ['name'], 16),
      ndNet: offset(btf, dev, ['nd_net', 'net'], 8),
    },
    netInum: offset(btf, net, ['ns', 'inum'], 4),
  };
}

const PREFIX = 'SKB_DROP_REASON_';

/** enum skb_drop_reason from BTF; SKB_NOT_DROPPED_YET and SKB_CONSUMED keep their own names. */
export function dropReasons(btf: Btf): DropReasons {
  const values = btf.enumValues('skb_drop_reason');
  if (!values) throw new UnsupportedError('BTF', 'the kernel has no enum skb_drop_reason (drop reasons arrived in Linux 5.17)');
  const out = new Map<number, string>();
  for (const v of values) out.set(Number(v.value), v.name.startsWith(PREFIX) ? v.name.slice(PREFIX.length) : v.name);
  return out;
}

/**
 * Drop reasons from the kfree_skb tracepoint's format file (the tracefs
 * fallback, when BTF cannot be read): the __print_symbolic() table of its
 * print fmt, `{ 93, "PKT_TOO_BIG" }`.
 */
export function dropReasonsFromFormat(format: string): DropReasons {
  const out = new Map<number, string>();
  const sym = format.indexOf('__print_symbolic(REC->reason');
  if (sym < 0) return out;
  const re = /\{\s*(\d+)\s*,\s*"([A-Z0-9_]+)"\s*\}/g;
  re.lastIndex = sym;
  for (let m = re.exec(format); m; m = re.exec(format)) out.set(Number(m[1]), m[2]!);
  return out;
}

/**
 * struct flowi4 and struct fib_nh_common for the FIB program; undefined
 * (and the FIB hook left out) when this kernel lays them out otherwise.
 */
export function fibLayout(btf: Btf): FibLayout | undefined {
  try {
    const fl = struct(btf, 'flowi4');
    const nhc = struct(btf, 'fib_nh_common');
    return {
      flowi4: {
        oif: offset(btf, fl, ['__fl_common', 'flowic_oif'], 4),
        iif: offset(btf, fl, ['__fl_common', 'flowic_iif'], 4),
        mark: offset(btf, fl, ['__fl_common', 'flowic_mark'], 4),
        proto: offset(btf, fl, ['__fl_common', 'flowic_proto'], 1),
        saddr: offset(btf, fl, ['saddr'], 4),
        daddr: offset(btf, fl, ['daddr'], 4),
        uli: offset(btf, fl, ['uli'], 4),
      },
      nhc: {
        dev: offset(btf, nhc, ['nhc_dev'], 8),
        gwFamily: offset(btf, nhc, ['nhc_gw_family'], 1),
        gw: offset(btf, nhc, ['nhc_gw'], 16),
      },
    };
  } catch (err) {
    if (err instanceof UnsupportedError) return undefined;
    throw err;
  }
}

/** struct flowi6, fib6_result, fib6_table and fib6_nh for the IPv6 FIB program; undefined when absent. */
export function fib6Layout(btf: Btf): Fib6Layout | undefined {
  try {
    const fl = struct(btf, 'flowi6');
    const res = struct(btf, 'fib6_result');
    const table = struct(btf, 'fib6_table');
    const nh = struct(btf, 'fib6_nh');
    const nhc = struct(btf, 'fib_nh_common');
    if (offset(btf, nh, ['nh_common']) !== 0) return undefined; // fib6_nh must start with its fib_nh_common
    return {
      flowi6: {
        oif: offset(btf, fl, ['__fl_common', 'flowic_oif'], 4),
        iif: offset(btf, fl, ['__fl_common', 'flowic_iif'], 4),
        mark: offset(btf, fl, ['__fl_common', 'flowic_mark'], 4),
        proto: offset(btf, fl, ['__fl_common', 'flowic_proto'], 1),
        saddr: offset(btf, fl, ['saddr'], 16),
        daddr: offset(btf, fl, ['daddr'], 16),
        uli: offset(btf, fl, ['uli'], 4),
      },
      res: { nh: offset(btf, res, ['nh'], 8), type: offset(btf, res, ['fib6_type'], 1) },
      tableId: offset(btf, table, ['tb6_id'], 4),
      nhc: {
        dev: offset(btf, nhc, ['nhc_dev'], 8),
        gwFamily: offset(btf, nhc, ['nhc_gw_family'], 1),
        gw: offset(btf, nhc, ['nhc_gw'], 16),
      },
    };
  } catch (err) {
    if (err instanceof UnsupportedError) return undefined;
    throw err;
  }
}
