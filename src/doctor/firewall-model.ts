/**
 * One model of the node's packet filter, from both places it can live:
 * nftables (the libnftables-json(5) objects of `nft -j list ruleset`) and
 * iptables (the text of `iptables-save` / `ip6tables-save`, legacy or
 * nf_tables backend). Only what the checks reason about is understood:
 * protocol, ICMP type and code, conntrack state, interfaces, marks, and the
 * verdicts and statements (log/NFLOG, MSS clamping, masquerade, mark
 * changes). Anything else in a rule is kept as an `other` match, which the
 * checks treat as "this rule may not apply", never as a match: a false
 * alarm costs more trust than a missed one.
 *
 * Tables iptables-nft created show up in both outputs; they are taken from
 * the iptables text (whose matches are readable there, while nft shows
 * them as opaque `xt` expressions) and left out of the nftables side.
 *
 * Pure: the input is whatever the snapshot holds, possibly hostile; nothing
 * here throws on unexpected shapes.
 */
import type { Snapshot } from './snapshot.js';

export type Op = '==' | '!=';

export type Match =
  /** Layer-4 protocol (meta l4proto, ip protocol, ip6 nexthdr, -p). Values: "icmp", "icmpv6", "tcp", or numbers as text. */
  | { readonly kind: 'l4proto'; readonly op: Op; readonly values: readonly string[] }
  /** ICMP (family 4) or ICMPv6 (family 6) type, numeric. */
  | { readonly kind: 'icmp-type'; readonly family: 4 | 6; readonly op: Op; readonly values: readonly number[] }
  | { readonly kind: 'icmp-code'; readonly family: 4 | 6; readonly op: Op; readonly values: readonly number[] }
  /** Conntrack state, lower case: "new", "established", "related", "invalid", "untracked". */
  | { readonly kind: 'ct-state'; readonly op: Op; readonly values: readonly string[] }
  /** Input or output interface (names; a trailing "+" or "*" is a wildcard). */
  | { readonly kind: 'iface'; readonly dir: 'in' | 'out'; readonly op: Op; readonly values: readonly string[] }
  /** Packet mark: (mark & mask) == value. */
  | { readonly kind: 'mark'; readonly op: Op; readonly value: number; readonly mask: number }
  /** TCP flags as written ("syn", "SYN,ACK SYN,ACK"...), kept for MSS-clamp detection. */
  | { readonly kind: 'tcp-flags'; readonly text: string }
  /** Network-layer family restriction inside an inet table (meta nfproto). */
  | { readonly kind: 'nfproto'; readonly op: Op; readonly values: readonly string[] }
  | { readonly kind: 'other'; readonly text: string };

export type Verdict =
  | { readonly kind: 'accept' | 'drop' | 'reject' | 'return' | 'continue' }
  | { readonly kind: 'jump' | 'goto'; readonly target: string };

export type Statement =
  | { readonly kind: 'log'; readonly group?: number }
  | { readonly kind: 'mss-clamp' }
  | { readonly kind: 'masquerade'; readonly randomFully: boolean }
  /** A mark change; `clears` is the bit mask this statement sets to zero (xor/and forms). */
  | { readonly kind: 'mark-set'; readonly clears: number; readonly text: string };

export interface FwRule {
  readonly source: 'nftables' | 'iptables';
  /** nft table family (ip, ip6, inet, arp, bridge, netdev); iptables: ip / ip6. */
  readonly family: string;
  readonly table: string;
  readonly chain: string;
  /** nft rule handle. */
  readonly handle?: number;
  /** 1-based position in its chain (iptables rule number, `iptables -L --line-numbers`). */
  readonly position: number;
  /** The rule as an operator reads it (iptables-save line, or a rendering of the nft expressions). */
  readonly text: string;
  readonly matches: readonly Match[];
  readonly statements: readonly Statement[];
  readonly verdict: Verdict;
}

export interface FwChain {
  readonly source: 'nftables' | 'iptables';
  readonly family: string;
  readonly table: string;
  readonly name: string;
  /** Base chains: the netfilter hook (prerouting, input, forward, output, postrouting, ingress). */
  readonly hook?: string;
  /** nft chain type (filter, nat, route). */
  readonly type?: string;
  readonly priority?: number;
  /** Base chain policy: accept or drop. */
  readonly policy?: 'accept' | 'drop';
  readonly rules: FwRule[];
}

export interface FirewallModel {
  /** Chains by `${source} ${family} ${table} ${name}`. */
  readonly chains: ReadonlyMap<string, FwChain>;
  /** Every rule, in chain order. */
  readonly rules: readonly FwRule[];
  /** nft tables present: `${family} ${name}`. */
  readonly nftTables: readonly string[];
}

export function chainKey(source: string, family: string, table: string, name: string): string {
  return `${source} ${family} ${table} ${name}`;
}

// ---------------------------------------------------------------------------
// names the kernel and the tools use for ICMP types and codes

/** ICMPv4 type names (nft's and iptables'; include/uapi/linux/icmp.h). */
const ICMP_TYPES: Readonly<Record<string, number>> = {
  'echo-reply': 0, 'destination-unreachable': 3, 'source-quench': 4, redirect: 5, 'echo-request': 8,
  'router-advertisement': 9, 'router-solicitation': 10, 'time-exceeded': 11, 'parameter-problem': 12,
  'timestamp-request': 13, 'timestamp-reply': 14, 'info-request': 15, 'info-reply': 16,
  'address-mask-request': 17, 'address-mask-reply': 18,
};
/** ICMPv4 destination-unreachable codes (ICMP_FRAG_NEEDED is 4). */
const ICMP_CODES: Readonly<Record<string, number>> = {
  'net-unreachable': 0, 'host-unreachable': 1, 'prot-unreachable': 2, 'port-unreachable': 3, 'frag-needed': 4,
  'fragmentation-needed': 4, 'net-prohibited': 9, 'host-prohibited': 10, 'admin-prohibited': 13,
};
/** ICMPv6 type names (include/uapi/linux/icmpv6.h; ICMPV6_PKT_TOOBIG is 2). */
const ICMPV6_TYPES: Readonly<Record<string, number>> = {
  'destination-unreachable': 1, 'packet-too-big': 2, 'time-exceeded': 3, 'parameter-problem': 4,
  'echo-request': 128, 'echo-reply': 129, 'mld-listener-query': 130, 'mld-listener-report': 131,
  'mld-listener-done': 132, 'mld-listener-reduction': 132, 'nd-router-solicit': 133, 'nd-router-advert': 134,
  'nd-neighbor-solicit': 135, 'nd-neighbor-advert': 136, 'nd-redirect': 137, 'router-renumbering': 138,
  'ind-neighbor-solicit': 141, 'ind-neighbor-advert': 142, 'mld2-listener-report': 143,
};

const PROTO_NUMBERS: Readonly<Record<string, string>> = { '1': 'icmp', '6': 'tcp', '17': 'udp', '58': 'icmpv6', '132': 'sctp', '4': 'ipip', '41': 'ipv6', '47': 'gre' };

function protoName(v: string): string {
  const s = v.toLowerCase();
  if (s === 'ipv6-icmp' || s === 'icmp6') return 'icmpv6';
  return PROTO_NUMBERS[s] ?? s;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined;
}

// ---------------------------------------------------------------------------
// nftables JSON

/** The values of a match's right-hand side: a scalar, an anonymous set, or a flags list. */
function rightValues(right: unknown): unknown[] | undefined {
  if (Array.isArray(right)) return right;
  if (isRecord(right) && Array.isArray(right['set'])) return right['set'] as unknown[];
  if (typeof right === 'string' || typeof right === 'number') return [right];
  return undefined;
}

/** Numbers from names/numbers/ranges of a type or code match, or undefined when one is not understood. */
function numericValues(values: unknown[], names: Readonly<Record<string, number>>): number[] | undefined {
  const out: number[] = [];
  for (const v of values) {
    if (typeof v === 'number' && Number.isInteger(v)) out.push(v);
    else if (typeof v === 'string' && names[v] !== undefined) out.push(names[v]!);
    else if (typeof v === 'string' && /^\d+$/.test(v)) out.push(Number(v));
    else if (isRecord(v) && Array.isArray(v['range']) && v['range'].length === 2) {
      const [a, b] = (v['range'] as unknown[]).map((x) => (typeof x === 'number' ? x : typeof x === 'string' ? names[x] ?? Number(x) : NaN));
      if (!Number.isInteger(a) || !Number.isInteger(b) || b! - a! > 255) return undefined;
      for (let i = a!; i <= b!; i++) out.push(i);
    } else return undefined;
  }
  return out;
}

function nftOp(op: unknown): Op | 'in' | undefined {
  if (op === '==' || op === 'eq' || op === undefined) return '==';
  if (op === '!=' || op === 'ne') return '!=';
  if (op === 'in') return 'in';
  return undefined;
}

/** One nft `match` expression to a Match. */
function nftMatch(m: Record<string, unknown>, text: string): Match {
  const other: Match = { kind: 'other', text };
  const op0 = nftOp(m['op']);
  if (op0 === undefined) return other;
  // `in` is a flags test (ct state established,related); the packet's one state must be among them
  const op: Op = op0 === 'in' ? '==' : op0;
  const left = m['left'];
  const values = rightValues(m['right']);
  if (!isRecord(left) || values === undefined) return other;
  const meta = isRecord(left['meta']) ? left['meta'] : undefined;
  const payload = isRecord(left['payload']) ? left['payload'] : undefined;
  const ct = isRecord(left['ct']) ? left['ct'] : undefined;
  const strs = values.map(str);
  const allStr = strs.every((s): s is string => s !== undefined);
  if (meta) {
    const key = meta['key'];
    if (key === 'l4proto' && allStr) return { kind: 'l4proto', op, values: strs.map(protoName) };
    if ((key === 'iifname' || key === 'iif') && allStr) return { kind: 'iface', dir: 'in', op, values: strs };
    if ((key === 'oifname' || key === 'oif') && allStr) return { kind: 'iface', dir: 'out', op, values: strs };
    if (key === 'nfproto' && allStr) return { kind: 'nfproto', op, values: strs };
    if (key === 'mark' && values.length === 1 && typeof values[0] === 'number') return { kind: 'mark', op, value: values[0], mask: 0xffffffff };
    return other;
  }
  if (ct && ct['key'] === 'state' && allStr) return { kind: 'ct-state', op, values: strs.map((s) => s.toLowerCase()) };
  if (payload) {
    const proto = payload['protocol'];
    const field = payload['field'];
    if (((proto === 'ip' && field === 'protocol') || (proto === 'ip6' && field === 'nexthdr')) && allStr) return { kind: 'l4proto', op, values: strs.map(protoName) };
    if (proto === 'icmp' && field === 'type') {
      const n = numericValues(values, ICMP_TYPES);
      return n ? { kind: 'icmp-type', family: 4, op, values: n } : other;
    }
    if (proto === 'icmp' && field === 'code') {
      const n = numericValues(values, ICMP_CODES);
      return n ? { kind: 'icmp-code', family: 4, op, values: n } : other;
    }
    if (proto === 'icmpv6' && field === 'type') {
      const n = numericValues(values, ICMPV6_TYPES);
      return n ? { kind: 'icmp-type', family: 6, op, values: n } : other;
    }
    if (proto === 'icmpv6' && field === 'code') {
      const n = numericValues(values, {});
      return n ? { kind: 'icmp-code', family: 6, op, values: n } : other;
    }
    if (proto === 'tcp' && field === 'flags') return { kind: 'tcp-flags', text };
  }
  if (isRecord(left['&']) || Array.isArray(left['&'])) {
    // `tcp flags & (syn | ack) == syn | ack` and the like
    const inner = JSON.stringify(left);
    if (inner.includes('"tcp"') && inner.includes('"flags"')) return { kind: 'tcp-flags', text };
  }
  return other;
}

/** A short nft-like rendering of one expression, for evidence. */
function exprText(e: unknown): string {
  if (!isRecord(e)) return String(e);
  const [k, v] = Object.entries(e)[0] ?? ['?', undefined];
  if (k === 'match' && isRecord(v)) {
    const side = (x: unknown): string => {
      if (isRecord(x)) {
        if (isRecord(x['payload'])) return `${String(x['payload']['protocol'])} ${String(x['payload']['field'])}`;
        if (isRecord(x['meta'])) return `meta ${String(x['meta']['key'])}`;
        if (isRecord(x['ct'])) return `ct ${String(x['ct']['key'])}`;
        if (Array.isArray(x['set'])) return `{ ${(x['set'] as unknown[]).map(side).join(', ')} }`;
        if (isRecord(x['range']) || Array.isArray(x['range'])) return (x['range'] as unknown[]).map(side).join('-');
        if (isRecord(x['prefix'])) return `${String(x['prefix']['addr'])}/${String(x['prefix']['len'])}`;
        return JSON.stringify(x);
      }
      if (Array.isArray(x)) return x.map(side).join(',');
      return typeof x === 'string' ? x : JSON.stringify(x);
    };
    const op = v['op'] === '==' || v['op'] === 'in' || v['op'] === undefined ? '' : `${String(v['op'])} `;
    return `${side(v['left'])} ${op}${side(v['right'])}`;
  }
  if (v === null) return k;
  if (k === 'jump' || k === 'goto') return `${k} ${isRecord(v) ? String(v['target']) : ''}`;
  if (k === 'log' && isRecord(v)) return `log${v['group'] !== undefined ? ` group ${String(v['group'])}` : ''}${v['prefix'] !== undefined ? ` prefix "${String(v['prefix'])}"` : ''}`;
  if (k === 'counter') return 'counter';
  if (k === 'reject') return 'reject';
  if (k === 'masquerade') return `masquerade${isRecord(v) && Array.isArray(v['flags']) ? ` ${(v['flags'] as unknown[]).join(',')}` : ''}`;
  if (k === 'mangle' && isRecord(v)) return `${JSON.stringify(v['key'])} set ${JSON.stringify(v['value'])}`;
  return k;
}

function nftRule(r: Record<string, unknown>, position: number): FwRule {
  const exprs = Array.isArray(r['expr']) ? (r['expr'] as unknown[]) : [];
  const matches: Match[] = [];
  const statements: Statement[] = [];
  let verdict: Verdict = { kind: 'continue' };
  for (const e of exprs) {
    // the expression's text is rendered only when a finding shows it (a big ruleset has thousands)
    const t = isRecord(e) ? Object.keys(e)[0] ?? '' : String(e);
    if (!isRecord(e)) {
      matches.push({ kind: 'other', text: t });
      continue;
    }
    const key = Object.keys(e)[0];
    const v = key === undefined ? undefined : e[key];
    switch (key) {
      case 'match':
        matches.push(isRecord(v) ? nftMatch(v, t) : { kind: 'other', text: t });
        break;
      case 'accept':
      case 'drop':
      case 'return':
        verdict = { kind: key };
        break;
      case 'reject':
        verdict = { kind: 'reject' };
        break;
      case 'jump':
      case 'goto':
        if (isRecord(v) && typeof v['target'] === 'string') verdict = { kind: key, target: v['target'] };
        break;
      case 'counter':
      case 'comment':
        break;
      case 'log': {
        const g = isRecord(v) ? v['group'] : undefined;
        statements.push(typeof g === 'number' ? { kind: 'log', group: g } : { kind: 'log' });
        break;
      }
      case 'masquerade': {
        const flags = isRecord(v) && Array.isArray(v['flags']) ? (v['flags'] as unknown[]) : isRecord(v) && typeof v['flags'] === 'string' ? [v['flags']] : [];
        statements.push({ kind: 'masquerade', randomFully: flags.includes('random-fully') || flags.includes('fully-random') });
        break;
      }
      case 'mangle': {
        const k = isRecord(v) ? JSON.stringify(v['key']) : '';
        if (k.includes('maxseg')) statements.push({ kind: 'mss-clamp' });
        else if (k.includes('"mark"')) statements.push({ kind: 'mark-set', clears: 0, text: exprText(e) });
        break;
      }
      case 'limit':
      case 'quota':
        // rate-limited: the rule applies to some packets only
        matches.push({ kind: 'other', text: t });
        break;
      default:
        // statements that do not decide (notrack, set updates...) are kept as text only; unknown
        // matching expressions (xt, lookups) make the rule "may not apply"
        if (key === 'xt' || key === 'lookup' || key === 'vmap') matches.push({ kind: 'other', text: t });
    }
  }
  const out: { -readonly [K in keyof FwRule]: FwRule[K] } = {
    source: 'nftables',
    family: String(r['family']),
    table: String(r['table']),
    chain: String(r['chain']),
    position,
    text: '',
    matches,
    statements,
    verdict,
  };
  if (typeof r['handle'] === 'number') out.handle = r['handle'];
  let text: string | undefined;
  Object.defineProperty(out, 'text', { enumerable: true, get: () => (text ??= exprs.map(exprText).join(' ')) });
  return out;
}

/** Tables an iptables-nft binary manages (they show up in both outputs). */
const XT_TABLES = new Set(['filter', 'nat', 'mangle', 'raw', 'security']);

// ---------------------------------------------------------------------------
// iptables-save text

/** Splits an iptables-save rule line into words, honouring double quotes. */
export function splitWords(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  let has = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '\\' && i + 1 < line.length) cur += line[++i];
      else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') {
      quoted = true;
      has = true;
    } else if (c === ' ' || c === '\t') {
      if (has || cur !== '') out.push(cur);
      cur = '';
      has = false;
    } else cur += c;
  }
  if (has || cur !== '') out.push(cur);
  return out;
}

function parseMarkMask(s: string): { value: number; mask: number } | undefined {
  const [v, m] = s.split('/');
  const n = Number(v);
  const mask = m === undefined ? 0xffffffff : Number(m);
  if (!Number.isInteger(n) || !Number.isInteger(mask)) return undefined;
  return { value: n >>> 0, mask: mask >>> 0 };
}

/** `3`, `3/4`, `fragmentation-needed`, `destination-unreachable`, `any` to (type, code?) matches. */
function icmpTypeMatches(family: 4 | 6, op: Op, arg: string): Match[] {
  const names = family === 4 ? ICMP_TYPES : ICMPV6_TYPES;
  if (arg === 'any') return [];
  if (family === 4 && (arg === 'fragmentation-needed' || arg === 'frag-needed')) {
    // a negated type/code pair matches everything but that pair; modelled as "other" (may not apply)
    return op === '==' ? [{ kind: 'icmp-type', family, op, values: [3] }, { kind: 'icmp-code', family, op, values: [4] }] : [{ kind: 'other', text: `! --icmp-type ${arg}` }];
  }
  const [t, c] = arg.split('/');
  const type = names[t!] ?? (/^\d+$/.test(t!) ? Number(t) : undefined);
  if (type === undefined) return [{ kind: 'other', text: `--icmp-type ${arg}` }];
  if (c === undefined) return [{ kind: 'icmp-type', family, op, values: [type] }];
  const code = /^\d+$/.test(c) ? Number(c) : undefined;
  if (code === undefined) return [{ kind: 'other', text: `--icmp-type ${arg}` }];
  return op === '==' ? [{ kind: 'icmp-type', family, op, values: [type] }, { kind: 'icmp-code', family, op, values: [code] }] : [{ kind: 'other', text: `! --icmp-type ${arg}` }];
}

function iptablesRule(family: 4 | 6, table: string, chain: string, words: readonly string[], line: string, position: number): FwRule {
  const matches: Match[] = [];
  const statements: Statement[] = [];
  let verdict: Verdict = { kind: 'continue' };
  let target: string | undefined;
  const targetArgs: string[] = [];
  let negate = false;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const op: Op = negate ? '!=' : '==';
    const next = () => words[++i] ?? '';
    if (w === '!') {
      negate = true;
      continue;
    }
    if (target !== undefined) {
      targetArgs.push(w);
      continue;
    }
    switch (w) {
      case '-p':
      case '--protocol':
        matches.push({ kind: 'l4proto', op, values: [protoName(next())] });
        break;
      case '-i':
      case '--in-interface':
        matches.push({ kind: 'iface', dir: 'in', op, values: [next()] });
        break;
      case '-o':
      case '--out-interface':
        matches.push({ kind: 'iface', dir: 'out', op, values: [next()] });
        break;
      case '--icmp-type':
        matches.push(...icmpTypeMatches(4, op, next()));
        break;
      case '--icmpv6-type':
        matches.push(...icmpTypeMatches(6, op, next()));
        break;
      case '--ctstate':
      case '--state':
        matches.push({ kind: 'ct-state', op, values: next().toLowerCase().split(',') });
        break;
      case '--mark': {
        const mm = parseMarkMask(next());
        matches.push(mm ? { kind: 'mark', op, value: mm.value, mask: mm.mask } : { kind: 'other', text: `--mark ${words[i]}` });
        break;
      }
      case '--tcp-flags':
        matches.push({ kind: 'tcp-flags', text: `--tcp-flags ${next()} ${next()}` });
        break;
      case '--syn':
        matches.push({ kind: 'tcp-flags', text: '--syn' });
        break;
      case '-m':
      case '--match':
        next(); // the match module itself decides nothing; its options do
        break;
      case '--comment':
        next();
        break;
      case '-j':
      case '--jump':
        target = next();
        break;
      case '-g':
      case '--goto':
        verdict = { kind: 'goto', target: next() };
        break;
      default:
        if (w.startsWith('-')) {
          // an option we do not model: the rule may not apply to every packet its other matches describe
          const arg = words[i + 1] !== undefined && !words[i + 1]!.startsWith('-') ? ` ${words[++i]}` : '';
          matches.push({ kind: 'other', text: `${negate ? '! ' : ''}${w}${arg}` });
        }
    }
    negate = false;
  }
  const argAfter = (name: string): string | undefined => {
    const k = targetArgs.indexOf(name);
    return k >= 0 ? targetArgs[k + 1] : undefined;
  };
  switch (target) {
    case undefined:
      break;
    case 'ACCEPT':
      verdict = { kind: 'accept' };
      break;
    case 'DROP':
      verdict = { kind: 'drop' };
      break;
    case 'REJECT':
      verdict = { kind: 'reject' };
      break;
    case 'RETURN':
      verdict = { kind: 'return' };
      break;
    case 'LOG':
      statements.push({ kind: 'log' });
      break;
    case 'NFLOG': {
      const g = argAfter('--nflog-group');
      // without --nflog-group the group is 0 (xt_NFLOG)
      statements.push({ kind: 'log', group: g !== undefined && /^\d+$/.test(g) ? Number(g) : 0 });
      break;
    }
    case 'TCPMSS':
      statements.push({ kind: 'mss-clamp' });
      break;
    case 'MASQUERADE':
      statements.push({ kind: 'masquerade', randomFully: targetArgs.includes('--random-fully') });
      break;
    case 'MARK': {
      let clears = 0;
      const xor = argAfter('--xor-mark');
      const setx = argAfter('--set-xmark');
      const and = argAfter('--and-mark');
      if (xor !== undefined) clears = Number(xor) >>> 0; // xor with a bit that is known set (the rule matched it) clears it
      else if (setx !== undefined) {
        const mm = parseMarkMask(setx);
        if (mm) clears = (mm.mask & ~mm.value) >>> 0 || ((mm.mask === 0 ? mm.value : 0) >>> 0);
      } else if (and !== undefined) clears = ~Number(and) >>> 0;
      statements.push({ kind: 'mark-set', clears, text: targetArgs.join(' ') });
      break;
    }
    default:
      if (/^[A-Z]+$/.test(target) && !target.startsWith('KUBE') && !target.includes('-')) {
        // another extension target (CT, NOTRACK, SNAT, DNAT...): does not end evaluation for our purposes
        if (target === 'SNAT' || target === 'DNAT' || target === 'REDIRECT') verdict = { kind: 'accept' };
      } else verdict = { kind: 'jump', target };
  }
  return { source: 'iptables', family: family === 4 ? 'ip' : 'ip6', table, chain, position, text: line, matches, statements, verdict };
}

function parseIptablesSave(text: string, family: 4 | 6, chains: Map<string, FwChain>, rules: FwRule[]): Set<string> {
  const tables = new Set<string>();
  const fam = family === 4 ? 'ip' : 'ip6';
  let table = '';
  const counts = new Map<string, number>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line === 'COMMIT') continue;
    if (line.startsWith('*')) {
      table = line.slice(1);
      tables.add(table);
      continue;
    }
    if (line.startsWith(':')) {
      const [name, policy] = line.slice(1).split(/\s+/);
      if (name === undefined) continue;
      const c: { -readonly [K in keyof FwChain]: FwChain[K] } = { source: 'iptables', family: fam, table, name, rules: [] };
      if (policy === 'ACCEPT' || policy === 'DROP') {
        c.policy = policy === 'ACCEPT' ? 'accept' : 'drop';
        c.hook = name.toLowerCase();
      }
      chains.set(chainKey('iptables', fam, table, name), c);
      continue;
    }
    const words = splitWords(line);
    if (words[0] !== '-A' || words[1] === undefined) continue;
    const chain = words[1];
    const key = chainKey('iptables', fam, table, chain);
    const position = (counts.get(key) ?? 0) + 1;
    counts.set(key, position);
    const r = iptablesRule(family, table, chain, words.slice(2), line, position);
    rules.push(r);
    let c = chains.get(key);
    if (c === undefined) {
      c = { source: 'iptables', family: fam, table, name: chain, rules: [] };
      chains.set(key, c);
    }
    c.rules.push(r);
  }
  return tables;
}

const cache = new WeakMap<Snapshot, FirewallModel>();

/** The firewall model of a snapshot (computed once per snapshot). */
export function firewallModel(s: Snapshot): FirewallModel {
  const hit = cache.get(s);
  if (hit) return hit;
  const chains = new Map<string, FwChain>();
  const rules: FwRule[] = [];
  const xtTables = new Set<string>();
  for (const [key, fam] of [['v4', 4], ['v6', 6]] as const) {
    const src = s.iptables?.[key];
    if (src === undefined) continue;
    const tables = parseIptablesSave(src.text, fam, chains, rules);
    if (src.backend !== 'legacy') for (const t of tables) if (XT_TABLES.has(t)) xtTables.add(`${fam === 4 ? 'ip' : 'ip6'} ${t}`);
  }
  const nftTables: string[] = [];
  const positions = new Map<string, number>();
  for (const item of s.nftables ?? []) {
    if (isRecord(item['table'])) {
      const t = item['table'];
      nftTables.push(`${String(t['family'])} ${String(t['name'])}`);
    } else if (isRecord(item['chain'])) {
      const c = item['chain'];
      const family = String(c['family']);
      const table = String(c['table']);
      if (xtTables.has(`${family} ${table}`)) continue;
      const chain: { -readonly [K in keyof FwChain]: FwChain[K] } = { source: 'nftables', family, table, name: String(c['name']), rules: [] };
      if (typeof c['hook'] === 'string') chain.hook = c['hook'];
      if (typeof c['type'] === 'string') chain.type = c['type'];
      if (typeof c['prio'] === 'number') chain.priority = c['prio'];
      if (c['policy'] === 'accept' || c['policy'] === 'drop') chain.policy = c['policy'];
      else if (chain.hook !== undefined) chain.policy = 'accept';
      chains.set(chainKey('nftables', family, table, chain.name), chain);
    } else if (isRecord(item['rule'])) {
      const r = item['rule'];
      const family = String(r['family']);
      const table = String(r['table']);
      if (xtTables.has(`${family} ${table}`)) continue;
      const key = chainKey('nftables', family, table, String(r['chain']));
      const position = (positions.get(key) ?? 0) + 1;
      positions.set(key, position);
      const rule = nftRule(r, position);
      rules.push(rule);
      let c = chains.get(key);
      if (c === undefined) {
        c = { source: 'nftables', family, table, name: rule.chain, rules: [] };
        chains.set(key, c);
      }
      c.rules.push(rule);
    }
  }
  const model: FirewallModel = { chains, rules, nftTables };
  cache.set(s, model);
  return model;
}

/** Where a rule is, as an operator finds it again: `nftables inet filter input handle 7` / `iptables filter INPUT rule 3`. */
export function ruleLocation(r: FwRule): string {
  if (r.source === 'nftables') return `table ${r.family} ${r.table} chain ${r.chain}${r.handle !== undefined ? ` handle ${r.handle}` : ` rule ${r.position}`}`;
  return `${r.family === 'ip6' ? 'ip6tables' : 'iptables'} -t ${r.table} ${r.chain} rule ${r.position}`;
}
