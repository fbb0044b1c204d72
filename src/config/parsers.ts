/**
 * zod schemas for the value types every component's config uses. Each one
 * accepts a value from any source: the string a flag or an environment
 * variable carries, or the typed scalar a YAML file gives (a number, a
 * boolean, a list). On failure the issue's message is the expectation itself
 * ("an integer in 1..4294967295"), which src/config/problems.ts passes on.
 */
import { z } from 'zod';

const FAIL: unique symbol = Symbol('fail');
type Fail = typeof FAIL;

/** A schema from a plain function; `expected` is what the operator is told on failure. */
export function parser<T>(expected: string, parse: (raw: unknown) => T | Fail): z.ZodType<T, unknown> {
  return z.unknown().transform((raw, ctx): T => {
    const out = parse(raw);
    if (out === FAIL) {
      ctx.issues.push({ code: 'custom', message: expected, input: raw });
      return z.NEVER;
    }
    return out;
  });
}
export { FAIL };

const DECIMAL = /^[0-9]+$/;
const HEX = /^0[xX][0-9a-fA-F]+$/;

/** A non-negative integer from a number or a decimal (or, with `hex`, 0x-prefixed) string. */
function toInteger(raw: unknown, hex: boolean): number | Fail {
  if (typeof raw === 'number') return Number.isSafeInteger(raw) ? raw : FAIL;
  if (typeof raw !== 'string') return FAIL;
  const s = raw.trim();
  if (DECIMAL.test(s)) {
    const n = Number(s);
    return Number.isSafeInteger(n) ? n : FAIL;
  }
  if (hex && HEX.test(s) && s.length <= 2 + 13) return Number.parseInt(s.slice(2), 16);
  return FAIL;
}

export interface IntegerOptions {
  readonly min: number;
  readonly max: number;
  /** Also accept 0x-prefixed hexadecimal strings. */
  readonly hex?: boolean;
  /** Values in range that are still refused, with the reason shown to the operator. */
  readonly refuse?: ReadonlyMap<number, string>;
}

/** An integer in [min, max], decimal (or hex with `hex`). */
export function integer(opts: IntegerOptions): z.ZodType<number, unknown> {
  let expected = `${opts.hex ? 'a decimal or 0x hex' : 'an'} integer in ${opts.min}..${opts.max}`;
  if (opts.refuse && opts.refuse.size > 0) {
    expected += `, not ${[...opts.refuse].map(([n, why]) => `${n} (${why})`).join(', ')}`;
  }
  return parser(expected, (raw) => {
    const n = toInteger(raw, opts.hex ?? false);
    if (n === FAIL || n < opts.min || n > opts.max || opts.refuse?.has(n)) return FAIL;
    return n;
  });
}

export const U32_MAX = 0xffff_ffff;

/** A 32-bit unsigned value written in decimal or 0x hex (marks, masks, table ids). */
export function u32(): z.ZodType<number, unknown> {
  return integer({ min: 0, max: U32_MAX, hex: true });
}

/** `VALUE[/MASK]`, both u32 in decimal or 0x hex, as `ip rule ... fwmark` takes them. */
export interface MarkMask {
  readonly value: number;
  readonly mask?: number;
}

/**
 * A firewall mark with optional mask. A bare 0 is refused: the kernel treats
 * fwmark 0 without a mask as "no mark match at all" (net/core/fib_rules.c,
 * fib_nl2rule sets the mask only for a non-zero mark), which is never what
 * asking for a mark means. Value bits outside the mask are refused too: the
 * kernel ignores them when matching but compares them when deleting.
 */
export function markMask(): z.ZodType<MarkMask, unknown> {
  return parser('VALUE[/MASK] with u32 parts in decimal or 0x hex, a non-zero VALUE unless a MASK is given, and no VALUE bits outside MASK', (raw) => {
    if (typeof raw === 'number') {
      return Number.isInteger(raw) && raw > 0 && raw <= U32_MAX ? { value: raw } : FAIL;
    }
    if (typeof raw !== 'string') return FAIL;
    const parts = raw.trim().split('/');
    if (parts.length > 2) return FAIL;
    const value = toInteger(parts[0] ?? '', true);
    if (value === FAIL || value > U32_MAX) return FAIL;
    if (parts.length === 1) return value === 0 ? FAIL : { value };
    const mask = toInteger(parts[1] ?? '', true);
    if (mask === FAIL || mask > U32_MAX) return FAIL;
    // (value & ~mask) in unsigned 32-bit arithmetic
    if (((value & ~mask) >>> 0) !== 0) return FAIL;
    return { value, mask };
  });
}

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION = /^(?:[0-9]+(?:\.[0-9]+)?(?:ms|s|m|h))+$/;
const DURATION_PART = /([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g;

export interface DurationOptions {
  /** Smallest allowed value in ms, 0 excepted when `zeroAllowed`. */
  readonly minMs?: number;
  readonly maxMs?: number;
  /** 0 is accepted even below `minMs` (it usually means "off"). */
  readonly zeroAllowed?: boolean;
  /** Accept a bare number as milliseconds (for env aliases that took plain ms). */
  readonly bareMs?: boolean;
}

/**
 * A duration like `500ms`, `5s`, `1m30s`, `1.5h`, as milliseconds. Units are
 * ms, s, m, h; the total must be whole milliseconds.
 */
export function duration(opts: DurationOptions = {}): z.ZodType<number, unknown> {
  const min = opts.minMs ?? 0;
  const max = opts.maxMs ?? Number.MAX_SAFE_INTEGER;
  const range = `${fmtMs(min)}..${fmtMs(max)}`;
  const expected =
    `a duration like 500ms, 5s, 1m30s${opts.bareMs ? ' (or plain milliseconds)' : ''} in ${range}` +
    (opts.zeroAllowed ? ' or 0 to disable' : '');
  return parser(expected, (raw) => {
    let ms: number;
    if (typeof raw === 'number') {
      if (!(opts.bareMs || raw === 0) || !Number.isSafeInteger(raw)) return FAIL;
      ms = raw;
    } else if (typeof raw === 'string') {
      const s = raw.trim();
      if (s === '0') ms = 0;
      else if (DECIMAL.test(s)) {
        if (!opts.bareMs) return FAIL;
        ms = Number(s);
      } else {
        if (!DURATION.test(s)) return FAIL;
        ms = 0;
        for (const m of s.matchAll(DURATION_PART)) ms += Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? Number.NaN);
        // 1.1s is 1100.0000000000002 in binary floating point: round tiny errors away
        const rounded = Math.round(ms);
        if (Math.abs(ms - rounded) > 1e-6) return FAIL;
        ms = rounded;
      }
    } else return FAIL;
    if (!Number.isSafeInteger(ms)) return FAIL;
    if (ms === 0 && opts.zeroAllowed) return 0;
    return ms < min || ms > max ? FAIL : ms;
  });
}

function fmtMs(ms: number): string {
  if (ms >= Number.MAX_SAFE_INTEGER) return '∞';
  if (ms !== 0 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms !== 0 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms !== 0 && ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

const TRUE = new Set(['true', '1', 'yes', 'on', 'y']);
const FALSE = new Set(['false', '0', 'no', 'off', 'n']);

/** true/false, 1/0, yes/no, on/off (any case), or a YAML boolean. */
export function boolean(): z.ZodType<boolean, unknown> {
  return parser('a boolean: true/false, 1/0, yes/no or on/off', (raw) => {
    if (typeof raw === 'boolean') return raw;
    if (raw === 1 || raw === 0) return raw === 1;
    if (typeof raw !== 'string') return FAIL;
    const s = raw.trim().toLowerCase();
    if (TRUE.has(s)) return true;
    if (FALSE.has(s)) return false;
    return FAIL;
  });
}

export interface TextOptions {
  /** Shown to the operator, e.g. "a Kubernetes namespace name". */
  readonly what?: string;
  readonly pattern?: RegExp;
  readonly maxLength?: number;
}

/** A non-empty string (no NUL), optionally matching `pattern`. */
export function text(opts: TextOptions = {}): z.ZodType<string, unknown> {
  const expected = opts.what ?? (opts.pattern ? `a string matching ${String(opts.pattern)}` : 'a non-empty string');
  return parser(expected, (raw) => {
    if (typeof raw !== 'string' && typeof raw !== 'number') return FAIL;
    const s = String(raw).trim();
    if (s === '' || s.includes('\0')) return FAIL;
    if (opts.maxLength !== undefined && s.length > opts.maxLength) return FAIL;
    if (opts.pattern && !opts.pattern.test(s)) return FAIL;
    return s;
  });
}

/** One of a fixed set of words (case-insensitive on input, canonical on output). */
export function oneOf<const V extends readonly string[]>(values: V): z.ZodType<V[number], unknown> {
  const lower = new Map(values.map((v) => [v.toLowerCase(), v] as const));
  return parser(`one of ${values.join(', ')}`, (raw) => {
    if (typeof raw !== 'string') return FAIL;
    return lower.get(raw.trim().toLowerCase()) ?? FAIL;
  });
}

/**
 * A comma-separated list (`a, b,c`) or a YAML sequence, each element parsed
 * by `item`. Empty elements are dropped, so a trailing comma is harmless.
 * Element problems are reported with their index.
 */
export function list<T>(item: z.ZodType<T, unknown>, opts: { readonly minItems?: number } = {}): z.ZodType<T[], unknown> {
  const min = opts.minItems ?? 0;
  return z
    .unknown()
    .transform((raw, ctx): unknown[] => {
      let parts: unknown[];
      if (Array.isArray(raw)) parts = raw;
      else if (typeof raw === 'string') parts = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
      else if (typeof raw === 'number' || typeof raw === 'boolean') parts = [raw];
      else {
        ctx.issues.push({ code: 'custom', message: 'a comma-separated list or a YAML sequence', input: raw });
        return z.NEVER;
      }
      if (parts.length < min) {
        ctx.issues.push({ code: 'custom', message: `a list of at least ${min} item${min === 1 ? '' : 's'}`, input: raw });
        return z.NEVER;
      }
      return parts;
    })
    .pipe(z.array(item));
}

/** Kubernetes names: RFC 1123 label (namespaces) and subdomain (nodes, ConfigMaps). */
export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
export const DNS1123_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export interface ListenAddress {
  /** Host to bind; '' means every address. IPv6 literals without brackets. */
  readonly host: string;
  readonly port: number;
}

/** `HOST:PORT`, `:PORT` or `[V6]:PORT`, as HTTP listeners take it. */
export function listenAddress(): z.ZodType<ListenAddress, unknown> {
  return parser('HOST:PORT, :PORT or [IPV6]:PORT with a port in 1..65535', (raw) => {
    if (typeof raw !== 'string') return FAIL;
    const s = raw.trim();
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]*)):([0-9]{1,5})$/.exec(s);
    if (!m) return FAIL;
    const port = Number(m[3]);
    if (port < 1 || port > 65535) return FAIL;
    return { host: m[1] ?? m[2] ?? '', port };
  });
}
