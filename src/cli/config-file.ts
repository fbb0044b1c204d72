/** Reads the optional YAML configuration file (`--config`): one section per component. */
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors.js';

/** The `section` of the file at `path` (undefined when no file was given or the section is absent). */
export async function configSection(path: string | undefined, section: string): Promise<unknown> {
  return (await configDocument(path, `a mapping with a "${section}:" section`))?.[section];
}

/** The whole file at `path` as a mapping of sections (undefined when no file was given or it is empty). */
export async function configDocument(path: string | undefined, expected = 'a mapping of sections (relay:, routes:, ...)'): Promise<Readonly<Record<string, unknown>> | undefined> {
  if (path === undefined) return undefined;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError([{ field: '--config', value: path, expected: `a readable YAML file (${(err as Error).message})` }]);
  }
  // yaml is loaded only when a file is given.
  const { default: YAML } = await import('yaml');
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (err) {
    throw new ConfigError([{ field: '--config', value: path, expected: `valid YAML (${(err as Error).message})` }]);
  }
  if (doc === null || doc === undefined) return undefined;
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError([{ field: '--config', value: path, expected }]);
  }
  return doc as Record<string, unknown>;
}
