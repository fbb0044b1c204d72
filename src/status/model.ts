/**
 * The document served at GET /status and rendered by the status page: one
 * node's view of every component it hosts, its uplinks, and a bounded
 * history of cumulative counters (the page derives rates from the deltas).
 *
 * It is plain JSON on purpose: the page renders it on the server (no
 * JavaScript needed) and again in the browser after each poll, from the same
 * functions, so every field here must survive JSON.stringify/parse unchanged
 * (ISO strings, not Dates; numbers, not bigints).
 */

export const COMPONENT_STATES = ['starting', 'running', 'failed', 'stopped'] as const;
export type ComponentState = (typeof COMPONENT_STATES)[number];

export interface StatusDocument {
  /** The node's name (NODE_NAME / --node-name), else the host name. */
  readonly node: string;
  /** pathguard's version (package.json). */
  readonly version: string;
  /** When the process started, ISO 8601. */
  readonly startedAt: string;
  /** When this document was produced, ISO 8601; the page computes ages from it, not from the viewer's clock. */
  readonly now: string;
  /** /healthz would answer 200. */
  readonly healthy: boolean;
  /** /readyz would answer 200. */
  readonly ready: boolean;
  readonly components: readonly ComponentStatus[];
  readonly uplinks: readonly UplinkStatus[];
  readonly history: HistoryDocument;
  /** The Kubernetes API as the agent sees it; components keep their last state while it is unreachable. */
  readonly kubernetes?: KubernetesStatus;
}

export interface KubernetesStatus {
  readonly state: 'unused' | 'ok' | 'unreachable';
  readonly message?: string;
  /** ISO 8601, while unreachable. */
  readonly since?: string;
}

export interface ComponentStatus {
  /** `relay`, `routes`, `doctor`, or any later component's name. */
  readonly name: string;
  readonly state: ComponentState;
  readonly ready: boolean;
  readonly live: boolean;
  /** Why it is not ready, not live or failed; empty when all is well. */
  readonly problems: readonly string[];
  /** Component-specific: RelayStatus, RoutesStatus, DoctorStatus, or any JSON object. */
  readonly status: Readonly<Record<string, unknown>>;
}

export interface UplinkStatus {
  readonly name: string;
  readonly mtu: number;
  readonly up: boolean;
}

export interface HistoryDocument {
  /** The sampling period. */
  readonly intervalMs: number;
  /** Oldest first; bounded (15 minutes by default, src/status/history.ts). */
  readonly samples: readonly HistorySample[];
}

export interface HistorySample {
  /** Epoch milliseconds. */
  readonly t: number;
  /** Cumulative counters by series name (`relay.received`); a series absent from a sample was not known then. */
  readonly series: Readonly<Record<string, number>>;
}

// ---- component-specific status objects ------------------------------------

export interface RelayStatus {
  readonly transport: string;
  /** NFLOG groups captured. */
  readonly groups: readonly number[];
  readonly counters: RelayCounters;
  readonly peers: readonly RelayPeerStatus[];
}

export interface RelayCounters {
  readonly received: number;
  readonly relayed: number;
  readonly duplicate: number;
  readonly loop: number;
  /** Rejected messages by reason (the relay's reject reasons). */
  readonly rejected: Readonly<Record<string, number>>;
  /** Messages dropped by a rate limit, by limit. */
  readonly rateLimited: Readonly<Record<string, number>>;
}

export interface RelayPeerStatus {
  /** The Node's name, when peers come from Kubernetes. */
  readonly name?: string;
  readonly addresses: readonly string[];
  /** The link that carries replicas to it (`eth0`), when known. */
  readonly carrier?: string;
  /** Its MAC address, when the transport sends frames. */
  readonly mac?: string;
  /** Sends that failed so far; 0 means the last sends succeeded. */
  readonly sendErrors: number;
}

export const RECONCILE_OUTCOMES = ['ok', 'partial', 'failed', 'held'] as const;
export type ReconcileOutcome = (typeof RECONCILE_OUTCOMES)[number];

export interface RoutesStatus {
  readonly table: number;
  readonly rules: number;
  readonly routes: number;
  readonly lastReconcile?: {
    readonly at: string;
    readonly outcome: ReconcileOutcome;
    readonly durationMs: number;
  };
  readonly problems: readonly { readonly item: string; readonly reason: string }[];
}

export const FINDING_SEVERITIES = ['error', 'warn', 'info'] as const;
export type FindingSeverity = (typeof FINDING_SEVERITIES)[number];

export interface DoctorStatus {
  readonly findings: readonly { readonly id: string; readonly severity: FindingSeverity; readonly title: string }[];
}

