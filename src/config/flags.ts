/**
 * From a component's config fields (field.ts) to its command-line options:
 * one generator for every command, so flags, environment names and YAML keys
 * can never drift apart. The flag is the kebab-case of the field's key, the
 * environment variables are PATHGUARD_<FLAG> and the field's aliases, the
 * file key is the field's key (or its flag spelling).
 *
 * No commander default and no Option.env() is ever declared: the component's
 * config function resolves defaults and the environment itself (precedence
 * flag > env > file > default), and a commander default would shadow env and
 * file. Defaults are shown in --help as text only.
 */
import { Option, type Command } from 'commander';
import { envNames, flagName, type Field, type FieldSpecs } from './field.js';

/** A flag spelling besides the main one: its commander flags string and the attribute commander stores it under. */
export interface FlagAlias {
  readonly flags: string;
  readonly attribute: string;
}

/**
 * How a switch (a field without a value) is spelled:
 *   plain     `--dry-run`
 *   negatable `--manage-firewall` and `--no-manage-firewall` (defaults to on)
 *   boolean   `--use-crds [bool]` (also `--use-crds=false`) and `--no-use-crds`
 */
export type SwitchKind = 'plain' | 'negatable' | 'boolean';

/** What the field list cannot say about a flag. */
export interface FlagHints {
  /** The value's name in --help (`--table <id>`); default `value`. */
  readonly valueName?: string;
  /** The default as --help shows it, when the field's default is not telling (`the host name`). */
  readonly defaultText?: string;
  readonly switch?: SwitchKind;
  /** May be given several times; commander collects the values into an array. */
  readonly repeatable?: boolean;
  /** Other spellings (another tool's), declared hidden; the config function folds their attributes into the field. */
  readonly aliases?: readonly string[];
}

/** Everything the CLI needs to declare one option with complete --help text. */
export interface FlagDefinition {
  /** Config field, and commander's attribute for the main flag. */
  readonly key: string;
  /** Commander flags string: `--nflog-group <group>`, or `--dry-run` for a switch. */
  readonly flags: string;
  readonly switch?: SwitchKind;
  /** Also declares `--no-<name>` (a switch that defaults to on). */
  readonly negatable: boolean;
  readonly repeatable: boolean;
  readonly aliases: readonly FlagAlias[];
  /** Environment variables read, highest precedence first. */
  readonly env: readonly string[];
  /** Default as shown in --help, absent when there is none. */
  readonly defaultText?: string;
  readonly description: string;
}

function showDefault(v: unknown): string | undefined {
  if (v === undefined || typeof v === 'boolean') return undefined;
  if (Array.isArray(v)) return v.length === 0 ? undefined : v.join(',');
  return String(v);
}

/** One definition per field, in field order. */
export function flagDefinitions<S extends FieldSpecs>(fields: S, hints: Readonly<Partial<Record<keyof S & string, FlagHints>>> = {} as never): FlagDefinition[] {
  return (Object.keys(fields) as (keyof S & string)[]).map((key) => {
    const spec: Field<unknown> = fields[key]!;
    const h: FlagHints = hints[key] ?? {};
    const name = flagName(key);
    const valueName = h.valueName ?? 'value';
    const defaultText = h.defaultText ?? showDefault(spec.default);
    const flags = h.switch === 'boolean' ? `--${name} [bool]` : h.switch ? `--${name}` : `--${name} <${valueName}>`;
    return Object.freeze({
      key,
      flags,
      ...(h.switch ? { switch: h.switch } : {}),
      negatable: h.switch === 'negatable' || h.switch === 'boolean',
      repeatable: h.repeatable ?? false,
      aliases: (h.aliases ?? []).map((a) => ({ flags: h.switch ? a : `${a} <${valueName}>`, attribute: a.slice(2) })),
      env: envNames(key, spec),
      ...(defaultText !== undefined ? { defaultText } : {}),
      description: spec.help ?? '',
    });
  });
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Declares `defs` on `cmd`, each with its default and environment variables in its help line. */
export function addFlagOptions(cmd: Command, defs: readonly FlagDefinition[]): void {
  for (const def of defs) {
    const env = def.env.length > 0 ? ` [env: ${def.env.join(', ')}]` : '';
    const shown = def.switch ? (def.negatable ? 'on' : undefined) : def.defaultText;
    const dflt = shown !== undefined && !def.description.includes('(default:') ? ` (default: ${shown})` : '';
    const o = new Option(def.flags, `${def.description}${dflt}${env}`);
    if (def.repeatable) o.argParser(collect);
    cmd.addOption(o);
    const name = def.flags.slice(2).split(' ')[0]!;
    if (def.switch === 'negatable') cmd.addOption(new Option(`--no-${name}`, `do not ${def.description.split(' (')[0]}`));
    if (def.switch === 'boolean') cmd.addOption(new Option(`--no-${name}`, `turn --${name} off`));
    for (const a of def.aliases) {
      const alias = new Option(a.flags).hideHelp();
      if (def.repeatable) alias.argParser(collect);
      cmd.addOption(alias);
    }
  }
}

/**
 * Folds alias attributes (commander stores `--nflog_group` as `nflog_group`)
 * into their fields. Giving an alias and its main flag with different values
 * is a problem, reported through `problem`.
 */
export function foldAliases(
  flags: Readonly<Record<string, unknown>> | undefined,
  defs: readonly FlagDefinition[],
  problem: (p: { field: string; value: unknown; expected: string }) => void,
): Record<string, unknown> {
  const folded: Record<string, unknown> = { ...(flags ?? {}) };
  for (const def of defs) {
    for (const alias of def.aliases) {
      const v = folded[alias.attribute];
      if (v === undefined) continue;
      delete folded[alias.attribute];
      const main = folded[def.key];
      if (main !== undefined && JSON.stringify(main) !== JSON.stringify(v)) {
        problem({ field: `--${alias.attribute}`, value: v, expected: `not to contradict --${flagName(def.key)} (${JSON.stringify(main)}); give one of them` });
        continue;
      }
      folded[def.key] = v;
    }
  }
  return folded;
}
