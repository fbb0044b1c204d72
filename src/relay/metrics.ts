/**
 * Prometheus series for the relay, read from the data plane's shared
 * counters (src/relay/stats.ts) at scrape time. prom-client's own Counter
 * and Histogram hold their values in the main thread; these collectors
 * instead read the worker's numbers directly, so the hot path never talks to
 * prom-client and a scrape never waits for the worker.
 */
import { REJECT_REASONS } from './validate.js';
import { RATE_LIMIT } from './rate-limiter.js';
import { LATENCY_BUCKETS_US, REPLICA_REJECT, type StatsReader, type Scalar } from './stats.js';
import type { PeerErrorSample } from './peer-slots.js';
import { metricName, type CollectedSample as Sample, type Metrics } from '../obs/metrics.js';

function collector(metrics: Metrics, name: string, help: string, type: 'counter' | 'gauge' | 'histogram', read: () => Sample[]): void {
  metrics.collect({ name, help, type, read });
}

export interface RelayMetricsOptions {
  /** All data-plane workers' counters (CombinedStats when there are several). */
  readonly stats: StatsReader;
  readonly transport: string;
  /** Send errors per current peer (src/relay/peer-slots.ts), read at scrape time. */
  readonly peerErrors: () => readonly PeerErrorSample[];
  /** Control-plane refreshes (peers, local addresses, MACs), by whether they changed what is in force. */
  readonly refreshes: () => { readonly changed: number; readonly unchanged: number };
}

export function registerRelayMetrics(registry: Metrics, o: RelayMetricsOptions): void {
  const s = o.stats;
  const scalar = (what: string, unit: string, help: string, key: Scalar, type: 'counter' | 'gauge' = 'counter') =>
    collector(registry, metricName('relay', what, unit), help, type, () => [{ value: s.get(key) }]);

  scalar('received', 'packets_total', 'Packets read from the NFLOG group.', 'received');
  scalar('relayed', 'messages_total', 'Too-big messages relayed: at least one replica was handed to the kernel (each fans out to the peers).', 'relayed');
  scalar('dry_run', 'messages_total', '--dry-run: messages that would have been relayed (nothing is sent).', 'dry_run');
  scalar('deduplicated', 'messages_total', 'Messages not relayed because the same flow and MTU was relayed within the dedup window.', 'duplicate');
  scalar('loops', 'packets_total', 'Captured packets recognised as replicas from peers and not relayed again.', 'loop');
  scalar('nflog_overruns', 'total', 'Times the kernel dropped NFLOG messages because the socket buffer was full (ENOBUFS).', 'nflog_overruns');
  scalar('replicas_received', 'datagrams_total', 'udp transport: datagrams received from peers.', 'replicas_received');
  scalar('replicas_injected', 'packets_total', 'udp transport: replicas written into the TUN device.', 'replicas_injected');
  scalar('inject_errors', 'total', 'udp transport: replicas the TUN device refused.', 'inject_errors');
  scalar('internal_errors', 'total', 'Unexpected errors the data plane survived (a bug to report, never a bad packet).', 'internal_errors');
  scalar('configured', 'peers', 'Peers the relay sends to (after excluding this node).', 'peers', 'gauge');
  collector(registry, metricName('relay', 'nflog_queue_threshold', 'messages'), 'Messages the kernel gathers into one NFLOG datagram: 1 when quiet, more under a flood (the wait it adds stays under 0.2 ms).', 'gauge', () => [
    { value: Math.max(1, s.get('nflog_qthresh')) },
  ]);
  collector(registry, metricName('relay', 'loop_heartbeat', 'timestamp_seconds'), 'When the data plane last turned its loop (Unix time).', 'gauge', () => [
    { value: s.get('heartbeat_ms') / 1000 },
  ]);
  collector(registry, metricName('relay', 'replicas_sent', 'total'), 'Replicas the kernel accepted for sending, by transport.', 'counter', () => [
    { value: s.get('replicas_sent'), labels: { transport: o.transport } },
  ]);
  collector(registry, metricName('relay', 'peer_refreshes', 'total'), 'Refreshes of peers, local addresses and MACs: changed (workers or firewall updated) or unchanged (nothing touched).', 'counter', () => {
    const r = o.refreshes();
    return [
      { value: r.changed, labels: { outcome: 'changed' } },
      { value: r.unchanged, labels: { outcome: 'unchanged' } },
    ];
  });
  collector(registry, metricName('relay', 'rejected', 'packets_total'), 'Captured packets refused, by reason.', 'counter', () =>
    REJECT_REASONS.map((reason) => ({ value: s.rejected(reason), labels: { reason } })),
  );
  collector(registry, metricName('relay', 'rate_limited', 'messages_total'), 'Messages dropped by a rate limit (src_rate: per outer source; global_rate: per interface).', 'counter', () =>
    RATE_LIMIT.map((limit) => ({ value: s.rateLimited(limit), labels: { limit } })),
  );
  collector(registry, metricName('relay', 'replicas_rejected', 'datagrams_total'), 'udp transport: datagrams from peers refused, by reason.', 'counter', () =>
    REPLICA_REJECT.map((reason) => ({ value: s.replicaRejected(reason), labels: { reason } })),
  );
  collector(registry, metricName('relay', 'send_errors', 'total'), 'Replicas the kernel refused to send, by peer.', 'counter', () => {
    const out: Sample[] = o.peerErrors().map(({ peer, value }) => ({ value, labels: { peer } }));
    if (o.transport === 'broadcast') out.push({ value: s.get('send_errors'), labels: { peer: 'broadcast' } });
    return out;
  });
  const latency = metricName('relay', 'latency', 'microseconds');
  collector(registry, latency, 'Time from reading a too-big message off NFLOG to its replicas handed to the kernel.', 'histogram', () => {
    const out: Sample[] = [];
    let cumulative = 0;
    LATENCY_BUCKETS_US.forEach((le, i) => {
      cumulative += s.latencyBucket(i);
      out.push({ value: cumulative, labels: { le }, metricName: `${latency}_bucket` });
    });
    cumulative += s.latencyBucket(LATENCY_BUCKETS_US.length);
    out.push({ value: cumulative, labels: { le: '+Inf' }, metricName: `${latency}_bucket` });
    out.push({ value: s.get('latency_sum_us'), metricName: `${latency}_sum` });
    out.push({ value: s.get('latency_count'), metricName: `${latency}_count` });
    return out;
  });
}
