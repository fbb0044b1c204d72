/**
 * What a check reports: a Finding with a stable check id, a severity, a
 * one-line title, the mechanism, the evidence read from the snapshot and the
 * commands that fix it. The same objects feed the text and the JSON output
 * and, in the agent, the `pathguard_doctor_findings{check,severity}` metric.
 */
import type { NumericAddress, NumericPrefix } from '../routes/prefix.js';
import { TUN_NAME_DEFAULT } from '../relay/config.js';

/** `error`: breaks traffic now; `warn`: breaks under conditions the node is set up for; `info`: worth knowing. */
export const SEVERITIES = ['error', 'warn', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Rank for comparisons: error > warn > info. */
export const SEVERITY_RANK: Readonly<Record<Severity, number>> = { error: 2, warn: 1, info: 0 };

/** One fact a finding rests on; `text` is how the text renderer shows it. */
export type Evidence =
  | { readonly type: 'sysctl'; readonly key: string; readonly value: string | null; readonly text: string }
  | { readonly type: 'link'; readonly name: string; readonly index: number; readonly kind: string | null; readonly mtu: number; readonly text: string }
  | { readonly type: 'route'; readonly family: 4 | 6; readonly table: number; readonly dst: string; readonly text: string }
  | { readonly type: 'rule'; readonly family: 4 | 6; readonly priority: number; readonly text: string }
  | {
      readonly type: 'firewall';
      readonly source: 'nftables' | 'iptables';
      readonly family: string;
      readonly table: string;
      readonly chain: string;
      readonly handle: number | null;
      readonly position: number | null;
      readonly text: string;
    }
  | { readonly type: 'address'; readonly dev: string; readonly address: string; readonly text: string }
  | { readonly type: 'value'; readonly name: string; readonly value: string | number; readonly text: string }
  | { readonly type: 'input'; readonly name: string; readonly value: string; readonly text: string };

export interface Finding {
  /** The check's id (`rp-filter`, ...), or `internal` when a check failed. */
  readonly id: string;
  readonly severity: Severity;
  /** What the finding is about (an interface, a chain, a pool), so one check can report several. */
  readonly subject: string;
  readonly title: string;
  /** The mechanism: why this eats packets. */
  readonly explanation: string;
  readonly evidence: readonly Evidence[];
  /** Commands an operator can paste (comments start with #). */
  readonly fix: readonly string[];
}

/** What the doctor cannot read from the node: given by the operator or the agent's config. */
export interface DoctorInputs {
  /** Service address prefixes announced by the cluster (relay's --vip-networks). */
  readonly vipNetworks: readonly NumericPrefix[];
  /** MetalLB address pools announced over BGP. */
  readonly bgpPools: readonly { readonly name: string; readonly prefixes: readonly NumericPrefix[] }[];
  /** MetalLB BGP peers that apply to this node. */
  readonly bgpPeers: readonly NumericAddress[];
  /** Underlay addresses of the far ends of this node's tunnels (when a device does not name its remote). */
  readonly tunnelEndpoints: readonly NumericAddress[];
  /** Pod address prefixes (cluster CIDR), for `forwarding`. */
  readonly podNetworks: readonly NumericPrefix[];
  /** pathguard's TUN device (relay --tun-name). */
  readonly tunName: string;
}

export const NO_INPUTS: DoctorInputs = { vipNetworks: [], bgpPools: [], bgpPeers: [], tunnelEndpoints: [], podNetworks: [], tunName: TUN_NAME_DEFAULT };
