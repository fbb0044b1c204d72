/**
 * `pathguard agent`: every component a node needs in one process (the
 * DaemonSet's command). One --config YAML with a section per component
 * (`relay:`, `routes:` — the sections `pathguard relay --config` and
 * `pathguard routes --config` read), one port for /metrics, /healthz,
 * /readyz, /status and the status page, one Kubernetes client and one Node
 * informer shared by the components.
 *
 * Components run when named by --enable, or, without it, when their section
 * is in the file. Each component's settings come from its section and from
 * the environment (PATHGUARD_<FLAG> and its aliases), as in its own command;
 * the agent's own flags (--metrics-addr, --ready-file, --log-level,
 * --node-name) take the place of the components' listener, ready file and
 * log level.
 */
import type { Command } from 'commander';
import { field, resolveFields } from '../config/field.js';
import { addFlagOptions, flagDefinitions } from '../config/flags.js';
import { list, listenAddress, oneOf, text, DNS1123_SUBDOMAIN } from '../config/parsers.js';
import { throwIfProblems } from '../config/problems.js';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { createLogger, LOG_LEVELS, type LogLevel } from '../obs/log.js';
import { COMPONENTS, COMPONENT_NAMES } from '../agent/components.js';
import type { Hosted } from '../agent/runtime.js';
import { configDocument } from './config-file.js';
import { hostUntilStopped } from './host.js';

export const AGENT_FIELDS = {
  enable: field({ schema: list(oneOf(COMPONENT_NAMES as [string, ...string[]])), help: `components to run, comma-separated: ${COMPONENT_NAMES.join(', ')} (default: those with a section in --config)` }),
  metricsAddr: field({ schema: listenAddress(), default: { host: '', port: 9462 }, help: 'serve /metrics, /healthz, /readyz, /status and the status page on HOST:PORT' }),
  nodeName: field({ env: ['NODE_NAME'], schema: text({ what: 'a Kubernetes node name', pattern: DNS1123_SUBDOMAIN }), help: "this node's name (the DaemonSet sets NODE_NAME from spec.nodeName)" }),
  readyFile: field({ schema: text({ what: 'a file path' }), help: 'create this file once every component is ready' }),
  logLevel: field({ schema: oneOf(LOG_LEVELS), default: 'info' as LogLevel, help: `one of ${LOG_LEVELS.join(', ')}` }),
};

const AGENT_FLAGS = flagDefinitions(AGENT_FIELDS, {
  enable: { valueName: 'components' },
  metricsAddr: { valueName: 'addr', defaultText: ':9462' },
  nodeName: { valueName: 'name', defaultText: '$NODE_NAME, else the host name' },
  readyFile: { valueName: 'path' },
  logLevel: { valueName: 'level' },
});

/** A key as the file may spell it: `vip-networks` or `vipNetworks`. */
const camel = (k: string) => k.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** `section` with the settings it borrows from other sections filled in where it does not give them. */
function withBorrowed(borrows: Readonly<Record<string, readonly string[]>> | undefined, section: unknown, doc: Readonly<Record<string, unknown>> | undefined): unknown {
  if (borrows === undefined || (section !== undefined && (section === null || typeof section !== 'object' || Array.isArray(section)))) return section;
  const out: Record<string, unknown> = { ...((section as Record<string, unknown> | undefined) ?? {}) };
  const has = (k: string) => Object.keys(out).some((o) => camel(o) === camel(k));
  for (const [from, keys] of Object.entries(borrows)) {
    const other = doc?.[from];
    if (other === null || typeof other !== 'object') continue;
    for (const k of keys) {
      const found = Object.entries(other as Record<string, unknown>).find(([o]) => camel(o) === camel(k));
      if (found && !has(k)) out[k] = found[1];
    }
  }
  return out;
}

/** The settings a hosted component takes from the agent instead of its own section. */
const AGENT_OWNED = ['metricsAddr', 'metricsPort', 'readyFile', 'logLevel'] as const;

export function register(program: Command): void {
  const cmd = program
    .command('agent')
    .description(
      'Run every pathguard component a node needs in one process (the DaemonSet command): ' +
        COMPONENTS.map((c) => `${c.name} (${c.summary})`).join('; ') +
        '. One port serves /metrics, /healthz, /readyz, /status and the status page (/).',
    )
    .option('--config <file>', `YAML file with one section per component (${COMPONENT_NAMES.map((n) => `${n}:`).join(', ')}) and an optional agent: section for the options below`);
  addFlagOptions(cmd, AGENT_FLAGS);
  cmd.addHelpText(
    'after',
    '\nEach component reads its section of --config and its environment variables as `pathguard <component> --help` lists them;\n' +
      'the agent\'s --metrics-addr, --ready-file and --log-level replace the components\' own.\n' +
      '\nA component that fails to start stops the agent (exit 1, or 2 for a configuration error); one that fails later is\n' +
      'reported on /healthz, /status and the page while the others keep running. SIGTERM stops them in reverse order:\n' +
      'the relay removes its nftables table, the routes component leaves its rules and routes in place.\n' +
      '\nExample (/etc/pathguard/config.yaml):\n' +
      '  relay:\n' +
      '    vip-networks: [198.51.100.0/24, 2001:db8:f::/48]\n' +
      '  routes:\n' +
      '    table: 20\n' +
      '\n  pathguard agent --config /etc/pathguard/config.yaml',
  );
  cmd.action(async (flags: Record<string, unknown>) => {
    const { config, ...rest } = flags as { config?: string } & Record<string, unknown>;
    const doc = await configDocument(config);
    const problems: ConfigProblem[] = [];
    const known = new Set(['agent', ...COMPONENT_NAMES]);
    for (const key of Object.keys(doc ?? {})) {
      if (!known.has(key)) problems.push({ field: `${config} ${key}:`, value: key, expected: `a section of ${[...known].join(', ')}` });
    }
    const { values: a, problems: found } = resolveFields(AGENT_FIELDS, { flags: rest, env: process.env, file: doc?.['agent'] }, 'agent');
    problems.push(...found);
    const names = a.enable ?? COMPONENT_NAMES.filter((n) => doc?.[n] !== undefined);
    if (problems.length === 0 && names.length === 0) {
      problems.push({ field: '--enable', value: '', expected: `components to run (${COMPONENT_NAMES.join(', ')}), or a --config file with their sections` });
    }
    throwIfProblems(problems);

    const hosted: Hosted[] = [];
    const errors: ConfigProblem[] = [];
    for (const entry of COMPONENTS) {
      if (!names.includes(entry.name)) continue;
      const def = await entry.load();
      const section = withBorrowed(def.borrows, doc?.[def.name], doc);
      const owned = section !== null && typeof section === 'object' ? Object.keys(section).filter((k) => (AGENT_OWNED as readonly string[]).includes(k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()))) : [];
      for (const k of owned) errors.push({ field: `${def.name}.${k}`, value: (section as Record<string, unknown>)[k], expected: `to be set for the agent (agent.${k} or --${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}), not per component` });
      try {
        hosted.push({ def, cfg: def.config(a.nodeName !== undefined ? { nodeName: a.nodeName } : {}, process.env, section ?? {}) });
      } catch (err) {
        if (err instanceof ConfigError) errors.push(...err.problems);
        else throw err;
      }
    }
    throwIfProblems(errors);
    const log = createLogger({ level: a.logLevel });
    await hostUntilStopped(
      { log, listen: a.metricsAddr, ...(a.readyFile !== undefined ? { readyFile: a.readyFile } : {}), ...(a.nodeName !== undefined ? { nodeName: a.nodeName } : {}) },
      hosted,
    );
  });
}
