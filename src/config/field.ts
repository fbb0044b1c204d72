/**
 * One setting, four places it can come from, one precedence:
 * flag > environment > file > default.
 *
 * A field is named once, in camelCase (`rulePriority`); from that name come
 * its flag (`--rule-priority`, looked up in the flags object under the
 * camelCase key, as commander stores it), its environment variable
 * (`PATHGUARD_RULE_PRIORITY`, then any aliases in the order given) and its
 * key in the component's section of the YAML file (`rulePriority`).
 *
 * Rules:
 * - a flag whose value is `undefined` is unset (commander defaults must not
 *   be declared on the command, or every flag would shadow env and file);
 * - an environment variable set to the empty string is unset (`FOO=` is how
 *   shells and manifests clear a value);
 * - a file key set to `null` is unset (YAML `key:` with nothing after it);
 * - a value that is present but invalid is an error; it never falls back to
 *   a lower-precedence source;
 * - an unknown key in the file is an error (a typo must not be silently ignored).
 */
import type { z } from 'zod';
import type { ConfigProblem } from '../errors.js';
import { problemsFromIssues } from './problems.js';

export interface Field<T> {
  /** Environment aliases besides the automatic PATHGUARD_<FLAG>, highest precedence first. */
  readonly env?: readonly string[];
  /** Parses a raw value from any source; see src/config/parsers.ts. */
  readonly schema: z.ZodType<T, unknown>;
  readonly default?: T;
  /** Accept this field from the file (default true); e.g. `--once` makes no sense in a file. */
  readonly file?: boolean;
  /** One line for --help. */
  readonly help?: string;
}

/** A field with a default: its resolved value is never undefined. */
export type FieldWithDefault<T> = Field<T> & { readonly default: T };

export function field<T>(spec: FieldWithDefault<T>): FieldWithDefault<T>;
export function field<T>(spec: Field<T>): Field<T>;
export function field<T>(spec: Field<T>): Field<T> {
  return spec;
}

export type FieldSpecs = Readonly<Record<string, Field<any>>>;

/** The resolved type of one field: T when it has a default, T | undefined otherwise. */
export type FieldValue<F> = F extends FieldWithDefault<infer T> ? T : F extends Field<infer T> ? T | undefined : never;
export type FieldValues<S extends FieldSpecs> = { -readonly [K in keyof S]: FieldValue<S[K]> };

export type Origin = 'flag' | 'env' | 'file' | 'default';

export interface ConfigInputs {
  /** Parsed command-line flags keyed by camelCase field name (commander's `opts()`). */
  readonly flags?: Readonly<Record<string, unknown>>;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** This component's section of the YAML config file (already parsed), or undefined. */
  readonly file?: unknown;
}

export interface Resolved<S extends FieldSpecs> {
  readonly values: FieldValues<S>;
  /** Where each value came from; absent for fields left unset. */
  readonly origins: Readonly<Partial<Record<keyof S, Origin>>>;
  readonly problems: readonly ConfigProblem[];
}

/** `rulePriority` → `rule-priority`. */
export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The environment variables read for a field, highest precedence first. */
export function envNames(key: string, spec: Field<unknown>): string[] {
  const own = `PATHGUARD_${flagName(key).replace(/-/g, '_').toUpperCase()}`;
  return [own, ...(spec.env ?? []).filter((n) => n !== own)];
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Resolve every field of `specs` from `inputs`. Never throws: problems are
 * returned, all of them, so the caller can raise one ConfigError.
 * `section` names the file section in problems (`routes.table`).
 */
/**
 * File keys may be written as the flags are (`rule-priority`) or camelCase
 * (`rulePriority`); both name the same setting, and giving both is an error.
 */
function camelKeys(file: Record<string, unknown>, prefix: string, problems: ConfigProblem[]): Record<string, unknown> {
  // Entries, not assignments: a `__proto__` key must stay an own key (and be reported as unknown).
  const out: [string, unknown][] = [];
  const spelled = new Map<string, string>();
  for (const [raw, v] of Object.entries(file)) {
    const key = raw.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    const first = spelled.get(key);
    if (first !== undefined) {
      problems.push({ field: `${prefix}${raw}`, value: v, expected: `one setting once (${first} and ${raw} are the same setting)` });
      continue;
    }
    spelled.set(key, raw);
    out.push([key, v]);
  }
  return Object.fromEntries(out);
}

export function resolveFields<S extends FieldSpecs>(specs: S, inputs: ConfigInputs, section = ''): Resolved<S> {
  const values: Record<string, unknown> = {};
  const origins: Record<string, Origin> = {};
  const problems: ConfigProblem[] = [];
  const env = inputs.env ?? {};
  const flags = inputs.flags ?? {};
  const filePrefix = section === '' ? '' : `${section}.`;

  let file: Record<string, unknown> = {};
  if (inputs.file !== undefined && inputs.file !== null) {
    if (isPlainObject(inputs.file)) file = camelKeys(inputs.file, filePrefix, problems);
    else problems.push({ field: section === '' ? 'config file' : section, value: inputs.file, expected: 'a mapping of setting names to values' });
  }
  for (const key of Object.keys(file)) {
    const spec = Object.prototype.hasOwnProperty.call(specs, key) ? specs[key] : undefined;
    if (spec === undefined || spec.file === false) {
      const allowed = Object.keys(specs).filter((k) => specs[k]?.file !== false);
      problems.push({ field: `${filePrefix}${key}`, value: file[key], expected: `a known setting (one of ${allowed.join(', ')})` });
    }
  }

  for (const [key, spec] of Object.entries(specs)) {
    let raw: unknown;
    let origin: Origin | undefined;
    let label = '';
    const fromFlag = Object.prototype.hasOwnProperty.call(flags, key) ? flags[key] : undefined;
    if (fromFlag !== undefined) {
      raw = fromFlag;
      origin = 'flag';
      label = `--${flagName(key)}`;
    } else {
      for (const name of envNames(key, spec)) {
        const v = Object.prototype.hasOwnProperty.call(env, name) ? env[name] : undefined;
        if (v !== undefined && v !== '') {
          raw = v;
          origin = 'env';
          label = name;
          break;
        }
      }
      if (origin === undefined && spec.file !== false && Object.prototype.hasOwnProperty.call(file, key)) {
        const v = file[key];
        if (v !== undefined && v !== null) {
          raw = v;
          origin = 'file';
          label = `${filePrefix}${key}`;
        }
      }
    }
    if (origin === undefined) {
      if (spec.default !== undefined) {
        values[key] = spec.default;
        origins[key] = 'default';
      } else values[key] = undefined;
      continue;
    }
    // reportInput: zod 4 leaves `input` off issues unless asked, and every error must name the bad value.
    const parsed = spec.schema.safeParse(raw, { reportInput: true });
    if (parsed.success) {
      values[key] = parsed.data;
      origins[key] = origin;
    } else {
      values[key] = undefined;
      problems.push(...problemsFromIssues(parsed.error.issues, { field: label, value: raw }));
    }
  }
  return { values: values as FieldValues<S>, origins: origins as Partial<Record<keyof S, Origin>>, problems };
}
