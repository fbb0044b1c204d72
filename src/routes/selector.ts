/**
 * Kubernetes label selectors (metav1.LabelSelector), as MetalLB uses them
 * for BGPPeer nodeSelectors, BGPAdvertisement ipAddressPoolSelectors and the
 * legacy ConfigMap's peer node-selectors. Semantics follow
 * k8s.io/apimachinery/pkg/labels: every matchLabels pair and every
 * requirement must hold; an empty selector matches everything; NotIn and
 * DoesNotExist match when the key is absent.
 *
 * A selector that cannot be read is an error for the item carrying it,
 * never a selector with the bad part dropped: dropping a requirement widens
 * the match, and a misspelt `matchLabel` would select every node.
 */

export const OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;
export type Operator = (typeof OPERATORS)[number];

export interface Requirement {
  readonly key: string;
  readonly operator: Operator;
  readonly values: readonly string[];
}

export interface Selector {
  readonly matchLabels: readonly (readonly [string, string])[];
  readonly matchExpressions: readonly Requirement[];
}

export type Labels = Readonly<Record<string, string>>;

export interface SelectorError {
  /** Path inside the selector, e.g. `matchExpressions[0].operator`. */
  readonly field: string;
  readonly value: unknown;
  readonly expected: string;
}

/** CRDs spell the keys in camelCase, the legacy ConfigMap in kebab-case. */
export type SelectorStyle = 'crd' | 'legacy';

const KEYS: Readonly<Record<SelectorStyle, { labels: string; exprs: string }>> = {
  crd: { labels: 'matchLabels', exprs: 'matchExpressions' },
  legacy: { labels: 'match-labels', exprs: 'match-expressions' },
};

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A label value: YAML may give `rack: 1`; Go's YAML decoding turns such scalars into strings too. */
function scalarString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function isOperator(v: unknown): v is Operator {
  return typeof v === 'string' && (OPERATORS as readonly string[]).includes(v);
}

export function parseSelector(raw: unknown, style: SelectorStyle): Selector | SelectorError {
  const k = KEYS[style];
  if (raw === null || raw === undefined) return { matchLabels: [], matchExpressions: [] };
  if (!isRecord(raw)) return { field: '', value: raw, expected: `a label selector (${k.labels} / ${k.exprs})` };
  for (const key of Object.keys(raw)) {
    if (key !== k.labels && key !== k.exprs) return { field: key, value: raw[key], expected: `only ${k.labels} and ${k.exprs}` };
  }
  const matchLabels: [string, string][] = [];
  const ml = raw[k.labels];
  if (ml !== undefined && ml !== null) {
    if (!isRecord(ml)) return { field: k.labels, value: ml, expected: 'a mapping of label keys to values' };
    for (const [key, v] of Object.entries(ml)) {
      const s = scalarString(v);
      if (s === undefined) return { field: `${k.labels}.${key}`, value: v, expected: 'a label value (string)' };
      matchLabels.push([key, s]);
    }
  }
  const matchExpressions: Requirement[] = [];
  const me = raw[k.exprs];
  if (me !== undefined && me !== null) {
    if (!Array.isArray(me)) return { field: k.exprs, value: me, expected: 'a list of {key, operator, values}' };
    for (let i = 0; i < me.length; i++) {
      const at = `${k.exprs}[${i}]`;
      const e: unknown = me[i];
      if (!isRecord(e)) return { field: at, value: e, expected: 'a requirement {key, operator, values}' };
      for (const key of Object.keys(e)) {
        if (key !== 'key' && key !== 'operator' && key !== 'values') return { field: `${at}.${key}`, value: e[key], expected: 'only key, operator and values' };
      }
      if (typeof e.key !== 'string' || e.key === '') return { field: `${at}.key`, value: e.key, expected: 'a label key' };
      if (!isOperator(e.operator)) return { field: `${at}.operator`, value: e.operator, expected: `one of ${OPERATORS.join(', ')}` };
      const rawValues = e.values ?? [];
      if (!Array.isArray(rawValues)) return { field: `${at}.values`, value: e.values, expected: 'a list of label values' };
      const values: string[] = [];
      for (const v of rawValues) {
        const s = scalarString(v);
        if (s === undefined) return { field: `${at}.values`, value: e.values, expected: 'a list of label values' };
        values.push(s);
      }
      const needsValues = e.operator === 'In' || e.operator === 'NotIn';
      if (needsValues && values.length === 0) return { field: `${at}.values`, value: e.values, expected: `a non-empty list for ${e.operator}` };
      if (!needsValues && values.length > 0) return { field: `${at}.values`, value: e.values, expected: `no values for ${e.operator}` };
      matchExpressions.push({ key: e.key, operator: e.operator, values });
    }
  }
  return { matchLabels, matchExpressions };
}

export function isSelectorError(v: Selector | SelectorError): v is SelectorError {
  return 'expected' in v;
}

function has(labels: Labels, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(labels, key);
}

export function matches(selector: Selector, labels: Labels): boolean {
  for (const [key, value] of selector.matchLabels) {
    if (!has(labels, key) || labels[key] !== value) return false;
  }
  for (const r of selector.matchExpressions) {
    const present = has(labels, r.key);
    switch (r.operator) {
      case 'In':
        if (!present || !r.values.includes(labels[r.key] as string)) return false;
        break;
      case 'NotIn':
        if (present && r.values.includes(labels[r.key] as string)) return false;
        break;
      case 'Exists':
        if (!present) return false;
        break;
      case 'DoesNotExist':
        if (present) return false;
        break;
    }
  }
  return true;
}

/** MetalLB's rule for selector lists: none means everything, otherwise any one must match. */
export function matchesAny(selectors: readonly Selector[], labels: Labels): boolean {
  return selectors.length === 0 || selectors.some((s) => matches(s, labels));
}
