/**
 * `pathguard trace`: where the kernel dropped one flow's packets, and why.
 * BPF programs on raw tracepoints (netif_receive_skb, net_dev_start_xmit,
 * kfree_skb, consume_skb), filtered in the kernel; tracefs alone when BPF is
 * unavailable or --no-bpf is given.
 */
import { Command, Option } from 'commander';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { duration } from '../config/parsers.js';
import { readyFile, type ReadyFile } from '../obs/ready-file.js';
import { parseFilter, type RawFilter } from '../trace/filter.js';
import { runTrace } from '../trace/run.js';

interface TraceFlags extends RawFilter {
  json?: boolean;
  summary?: boolean;
  duration?: string;
  maxEvents?: string;
  bpf: boolean;
  readyFile?: string;
}

const WORDS = new Set(['src', 'dst', 'proto', 'sport', 'dport', 'port', 'family']);
const PROTO_WORDS = new Set(['tcp', 'udp', 'icmp', 'icmpv6']);

/**
 * The positional filter: `dst 203.0.113.9 udp dport 9`, the flags' words
 * with the dashes dropped; a bare protocol name stands for `proto NAME` and
 * `inner` for --inner. Flags given as well win.
 */
export function parseFilterWords(words: readonly string[]): RawFilter {
  const out: RawFilter = {};
  const problems: ConfigProblem[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!.toLowerCase();
    if (PROTO_WORDS.has(w)) out.proto = w;
    else if (w === 'inner') out.inner = true;
    else if (WORDS.has(w)) {
      const v = words[i + 1];
      if (v === undefined) problems.push({ field: `FILTER ${w}`, value: undefined, expected: 'a value after the word' });
      else (out as Record<string, string>)[w] = v;
      i++;
    } else problems.push({ field: 'FILTER', value: words[i], expected: 'src, dst, proto, sport, dport, port, family (each with a value), tcp, udp, icmp, icmpv6 or inner' });
  }
  if (problems.length) throw new ConfigError(problems);
  return out;
}

export function register(program: Command): void {
  program
    .command('trace')
    .description(
      "Show where the kernel handles and drops one flow's packets, and why: received, transmitted, ICMP error sent " +
        '(type, code, MTU), consumed, dropped (drop reason and kernel function). BPF on tracepoints filters in the ' +
        'kernel and follows each packet by its skb through NAT and decapsulation; without BPF, tracefs gives ' +
        'unfiltered host-wide drop counts. Needs root (CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN).',
    )
    .argument('[filter...]', 'filter words, e.g. "dst 203.0.113.9 udp dport 9" (same meaning as the flags)')
    .option('--src <addr[/len]>', 'source address or prefix of the packets to follow')
    .option('--dst <addr[/len]>', 'destination address or prefix')
    .addOption(new Option('--proto <name>', 'transport protocol').choices(['tcp', 'udp', 'icmp', 'icmpv6']))
    .option('--sport <port>', 'source port (TCP, UDP, SCTP)')
    .option('--dport <port>', 'destination port')
    .option('--port <port>', 'source or destination port')
    .addOption(new Option('--family <n>', 'address family').choices(['4', '6']))
    .option('--inner', 'match the header inside IPIP, IPv6-in-IP or VXLAN (UDP 4789) packets instead of the outer one')
    .option('--json', 'one JSON object per event, one per line')
    .option('--summary', 'at exit, print drop counts by (reason, location)')
    .option('--duration <d>', 'stop after this long (500ms, 10s, 5m)')
    .option('--max-events <n>', 'stop after this many events')
    .option('--no-bpf', 'do not use BPF: tracefs only (unfiltered, host-wide counts)')
    .option('--ready-file <path>', 'written once the probes are attached, removed at exit (for scripts and tests)')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  pathguard trace --dst 203.0.113.9 --proto udp --dport 9\n' +
        '  pathguard trace src 198.51.100.0/24 tcp port 443 --json\n' +
        '  pathguard trace --family 6 --summary --duration 30s\n' +
        '\nExit status: 0 after a clean stop (Ctrl-C, --duration, --max-events), 1 on failure, 2 on a bad filter.',
    )
    .action(async (words: string[], flags: TraceFlags) => {
      const fromWords = parseFilterWords(words);
      const raw: RawFilter = { ...fromWords };
      for (const k of ['src', 'dst', 'proto', 'sport', 'dport', 'port', 'family'] as const) if (flags[k] !== undefined) raw[k] = flags[k];
      if (flags.inner) raw.inner = true;
      const problems: ConfigProblem[] = [];
      let filter;
      try {
        filter = parseFilter(raw);
      } catch (err) {
        if (err instanceof ConfigError) problems.push(...err.problems);
        else throw err;
      }
      let durationMs: number | undefined;
      if (flags.duration !== undefined) {
        const d = duration({ minMs: 1 }).safeParse(flags.duration);
        if (d.success) durationMs = d.data;
        else problems.push({ field: '--duration', value: flags.duration, expected: 'a duration like 500ms, 10s, 5m' });
      }
      let maxEvents: number | undefined;
      if (flags.maxEvents !== undefined) {
        if (/^[1-9]\d{0,9}$/.test(flags.maxEvents)) maxEvents = Number(flags.maxEvents);
        else problems.push({ field: '--max-events', value: flags.maxEvents, expected: 'a positive integer' });
      }
      if (problems.length || !filter) throw new ConfigError(problems);

      const abort = new AbortController();
      const onSignal = () => abort.abort();
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      let ready: ReadyFile | undefined;
      try {
        // lost events are reported on stderr and in the --json summary; the trace itself still succeeded
        await runTrace({
          filter,
          json: flags.json === true,
          summary: flags.summary === true,
          ...(durationMs !== undefined ? { durationMs } : {}),
          ...(maxEvents !== undefined ? { maxEvents } : {}),
          noBpf: !flags.bpf,
          signal: abort.signal,
          out: (line) => process.stdout.write(`${line}\n`),
          note: (line) => process.stderr.write(`${line}\n`),
          onReady: async (info) => {
            if (flags.readyFile) ready = await readyFile(flags.readyFile, { mode: info.mode, ...(info.ids ? { ids: info.ids } : {}) });
          },
        });
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await ready?.remove();
      }
    });
}
