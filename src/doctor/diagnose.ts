/**
 * The doctor's thin shell: get a snapshot (read the node, or load a saved
 * one), optionally save it, turn the config (and a MetalLB file) into the
 * checks' inputs, and run the checks. The agent runtime can call the same
 * function on its interval; the CLI prints what it returns.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import { parseSourceFile } from '../routes/sources.js';
import { doctorInputs, type DoctorConfig } from './config.js';
import { readNode } from './read-node.js';
import { runChecks, type DoctorResult } from './run.js';
import { decodeSnapshot, type Snapshot } from './snapshot.js';

export interface Diagnosis {
  readonly snapshot: Snapshot;
  readonly result: DoctorResult;
}

async function readConfigFile(path: string, flag: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError([{ field: flag, value: path, expected: `a readable file (${(err as Error).message})` }]);
  }
}

export async function diagnose(cfg: DoctorConfig): Promise<Diagnosis> {
  // inputs first: a bad MetalLB file is a usage error, found before the node is read
  let metallb: ReturnType<typeof parseSourceFile> | undefined;
  if (cfg.metallbFile !== undefined) {
    const text = await readConfigFile(cfg.metallbFile, '--metallb-file');
    metallb = parseSourceFile(text, { ...(cfg.nodeName !== undefined ? { nodeName: cfg.nodeName } : {}), namespace: cfg.metallbNamespace });
    const fatal = metallb.model.problems.filter((p) => p.severity === 'fatal');
    if (fatal.length > 0) throw new ConfigError(fatal.map((p) => ({ field: '--metallb-file', value: cfg.metallbFile, expected: `a readable MetalLB configuration (${p.message})` })));
  }
  const inputs = doctorInputs(cfg, metallb);
  const snapshot =
    cfg.snapshot !== undefined
      ? decodeSnapshot(await readConfigFile(cfg.snapshot, '--snapshot'), '--snapshot')
      : await readNode(cfg.statusUrl !== undefined ? { statusUrl: cfg.statusUrl } : {});
  if (cfg.saveSnapshot !== undefined) await writeFile(cfg.saveSnapshot, `${JSON.stringify(snapshot, null, 1)}\n`);
  const result = runChecks(snapshot, inputs, cfg.check !== undefined ? { only: cfg.check } : {});
  return { snapshot, result };
}
