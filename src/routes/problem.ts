/**
 * Problems found while turning MetalLB configuration and node facts into
 * routing policy. They are data, not exceptions: one bad prefix or peer is
 * reported by name and skipped while the rest is still applied.
 *
 * Severity decides what the shell may do (see holdVerdict in plan.ts):
 * - fatal: the source itself is unusable (unparsable YAML, a missing key,
 *   a list that was never read); nothing computed from it may be applied;
 * - error: one item is invalid and was skipped;
 * - notice: nothing is wrong, but an operator would want to know (an
 *   unsupported field ignored, a peer that does not apply to this node).
 */

export type Severity = 'fatal' | 'error' | 'notice';

/** Stable problem codes; safe as metric label values. */
export const PROBLEM_CODES = [
  'source-unavailable', // the file or the API could not be read at all
  'yaml-syntax', // the text is not YAML
  'missing-key', // a required key or list is absent
  'wrong-type', // a value has the wrong shape (a string where a list belongs, ...)
  'unknown-key', // a key this format does not have (probably a typo)
  'unknown-kind', // a document of a kind pathguard does not read
  'wrong-namespace', // a resource outside the MetalLB namespace
  'duplicate-name', // two items of one kind with the same name
  'bad-prefix', // an address entry that is neither a CIDR nor a range
  'bad-range', // a range with start > end
  'mixed-family', // a range whose ends are of different families
  'bad-protocol', // a legacy pool protocol other than bgp / layer2
  'bad-address', // a peer address that is not an IP address
  'bad-selector', // a label selector that cannot be evaluated
  'unsupported-peer', // a peer pathguard cannot route through (unnumbered, VRF)
  'unusable-peer', // a peer address that cannot be a gateway (loopback, own address, ...)
  'off-link-peer', // a peer not inside any on-link prefix of this node
  'no-peers', // pools of a family with no peer for this node
  'unknown-reference', // an advertisement naming a pool that does not exist
  'bad-label', // a pathguard node label with a value it cannot use
  'unused-field', // a MetalLB field that has no meaning for return-path routing
] as const;
export type ProblemCode = (typeof PROBLEM_CODES)[number];

export interface RouteProblem {
  readonly severity: Severity;
  readonly code: ProblemCode;
  /** The item, named the way the operator wrote it: `IPAddressPool metallb-system/pool-a`, `config peers[1]`. */
  readonly item: string;
  /** The field inside the item, e.g. `spec.addresses[2]`. */
  readonly field?: string;
  readonly value?: unknown;
  /** What was expected or what was done about it. */
  readonly message: string;
}

export function problem(
  severity: Severity,
  code: ProblemCode,
  item: string,
  message: string,
  extra: { readonly field?: string; readonly value?: unknown } = {},
): RouteProblem {
  const p: { -readonly [K in keyof RouteProblem]: RouteProblem[K] } = { severity, code, item, message };
  if (extra.field !== undefined) p.field = extra.field;
  if (extra.value !== undefined) p.value = extra.value;
  return p;
}

/** One line for logs: `error bad-prefix IPAddressPool a spec.addresses[0]="192.0.2.300/32": expected ...`. */
export function formatProblem(p: RouteProblem): string {
  const where = p.field ? ` ${p.field}` : '';
  const value = p.value !== undefined ? `=${JSON.stringify(p.value)}` : '';
  return `${p.severity} ${p.code} ${p.item}${where}${value}: ${p.message}`;
}
