/**
 * The two renderings of one DoctorResult: text for a terminal (grouped by
 * severity, each finding with its explanation, evidence and fix) and JSON
 * (the result object as it is; also what the agent serves).
 */
import { SEVERITIES, type Finding, type Severity } from './finding.js';
import type { DoctorResult } from './run.js';

const HEADINGS: Readonly<Record<Severity, string>> = {
  error: 'ERROR (breaks traffic now)',
  warn: 'WARN (breaks under conditions this node is set up for)',
  info: 'INFO',
};

/** Wraps prose at `width` columns after `indent`. */
function wrap(text: string, indent: string, width = 100): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (word === '') continue;
    if (line !== '' && indent.length + line.length + 1 + word.length > width) {
      out.push(indent + line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') out.push(indent + line);
  return out;
}

function findingText(f: Finding, verbose: boolean): string[] {
  const out = [`  [${f.id}] ${f.title}`];
  if (verbose || f.severity !== 'info') out.push(...wrap(f.explanation, '      '));
  if (f.evidence.length > 0) {
    out.push('    evidence:');
    for (const e of f.evidence) out.push(`      - ${e.text}`);
  }
  if (f.fix.length > 0) {
    out.push('    fix:');
    for (const c of f.fix) out.push(`      ${c}`);
  }
  return out;
}

export interface TextOptions {
  /** Also explain info findings (they are listed with evidence and fix either way). */
  readonly verbose?: boolean;
}

export function renderText(r: DoctorResult, opts: TextOptions = {}): string {
  const lines: string[] = [];
  const who = `${r.node.hostname ?? 'node'} (kernel ${r.node.kernel}, snapshot ${r.node.takenAt})`;
  lines.push(`pathguard doctor: ${who}`);
  lines.push(`${r.checks.length} checks: ${r.counts.error} error, ${r.counts.warn} warn, ${r.counts.info} info`);
  for (const sev of SEVERITIES) {
    const group = r.findings.filter((f) => f.severity === sev);
    if (group.length === 0) continue;
    lines.push('', HEADINGS[sev]);
    for (const f of group) lines.push(...findingText(f, opts.verbose ?? false), '');
  }
  if (r.findings.length === 0) lines.push('', 'no findings: nothing on this node is known to eat packets silently');
  if (r.problems.length > 0) {
    lines.push('', 'could not read (checks that need these may have missed something):');
    for (const p of r.problems) lines.push(`  - ${p.source}: ${p.message}`);
  }
  return lines.join('\n').replace(/\n{3,}/g, '\n\n');
}

export function renderJson(r: DoctorResult): string {
  return JSON.stringify(r, null, 2);
}
