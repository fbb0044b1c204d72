// The Dockerfile, without a container engine: every COPY source exists after
// the build, and the runtime stage holds every file the agent loads (the
// import graph of dist/src/cli/main.js, its workers and the files it reads
// by URL), with every package it imports among the production dependencies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const DIST = join(ROOT, 'dist');

interface Copy {
  readonly from?: string;
  readonly sources: string[];
  readonly dest: string;
}
interface Stage {
  readonly name?: string;
  readonly workdir: string;
  readonly copies: Copy[];
  readonly lines: string[];
}

/** The stages of the Dockerfile with their COPY instructions (continuation lines joined). */
function stages(): Stage[] {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const out: { name?: string; workdir: string; copies: Copy[]; lines: string[] }[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [instr, ...rest] = line.split(/\s+/);
    const cur = out[out.length - 1];
    if (instr === 'FROM') {
      const m = /\bAS\s+(\S+)/i.exec(line);
      out.push({ ...(m ? { name: m[1]! } : {}), workdir: '/', copies: [], lines: [] });
      continue;
    }
    if (cur === undefined) continue;
    cur.lines.push(line);
    if (instr === 'WORKDIR') cur.workdir = rest[0]!;
    if (instr === 'COPY') {
      const from = rest.find((a) => a.startsWith('--from='))?.slice('--from='.length);
      const args = rest.filter((a) => !a.startsWith('--'));
      cur.copies.push({ ...(from !== undefined ? { from } : {}), sources: args.slice(0, -1), dest: args[args.length - 1]! });
    }
  }
  return out;
}

const abs = (workdir: string, p: string) => resolve(workdir, p);

test('the build stage copies files that exist in the tree; the runtime stage copies what the build stage made', () => {
  const all = stages();
  assert.equal(all.length, 2, 'two stages');
  const [build, runtime] = all as [Stage, Stage];
  assert.equal(build.name, 'build');
  assert.ok(build.lines.some((l) => /npm ci\b/.test(l)), 'build installs with the lock file');
  assert.ok(build.lines.some((l) => /npm prune --omit=dev/.test(l)), 'dev dependencies are pruned before they are copied');
  for (const c of build.copies) for (const s of c.sources) assert.ok(existsSync(join(ROOT, s)), `build stage COPY ${s}`);

  // runtime COPY --from=build /src/X: X must exist after `make build` (dist/src) or in the tree
  for (const c of runtime.copies) {
    for (const s of c.sources) {
      const inTree = c.from === 'build' ? relative(build.workdir, s) : s;
      assert.ok(!inTree.startsWith('..'), `${s} is inside the build stage's ${build.workdir}`);
      assert.ok(existsSync(join(ROOT, inTree)), `runtime COPY ${c.from ? `--from=${c.from} ` : ''}${s}: ${inTree} exists after the build`);
    }
  }
  assert.ok(runtime.lines.some((l) => /apt-get install .*\bnftables\b/.test(l)), 'the nft binary comes from Debian nftables');
  assert.ok(runtime.lines.some((l) => l.startsWith('ENTRYPOINT') && l.includes('/app/bin/pathguard')));
});

test('the runtime stage holds every file the agent loads, and every package it imports is a production dependency', () => {
  const runtime = stages()[1]!;
  // Where each tree path lands in the image: /app/<dest> for each COPY.
  const shipped = runtime.copies.map((c) => {
    const src = c.from === 'build' ? relative('/src', c.sources[0]!) : c.sources[0]!;
    return { tree: src.replace(/\/$/, ''), image: abs(runtime.workdir, c.dest).replace(/\/$/, '') };
  });
  const inImage = (treePath: string): boolean => shipped.some((s) => treePath === s.tree || treePath.startsWith(s.tree + sep));
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const builtins = new Set(builtinModules);

  const seen = new Set<string>();
  const packages = new Set<string>();
  const queue = [join(DIST, 'src', 'cli', 'main.js'), join(ROOT, 'bin', 'pathguard')];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const rel = relative(ROOT, file);
    assert.ok(inImage(rel), `${rel} is loaded by the agent but not copied into the image`);
    if (!/\.(js|mjs)$|bin\/pathguard$/.test(file)) continue; // data files (package.json): present is enough
    const text = readFileSync(file, 'utf8');
    const specs = [
      ...[...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!),
      ...[...text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!),
      ...[...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!),
    ];
    for (const spec of specs) {
      if (spec.startsWith('.')) queue.push(resolve(dirname(file), spec));
      else if (spec.startsWith('node:') || builtins.has(spec)) continue;
      else packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
    }
    // Files reached by URL: workers (new Worker(new URL(...))), package.json, bin/.
    for (const m of text.matchAll(/new URL\(\s*['"]([^'"]+)['"]\s*,\s*import\.meta\.url\s*\)/g)) queue.push(resolve(dirname(file), m[1]!));
  }
  assert.ok(seen.has(join(DIST, 'src', 'relay', 'data-plane.js')), 'the relay worker is found through its URL');
  assert.ok(seen.has(join(ROOT, 'package.json')), 'the version is read from package.json');
  for (const p of packages) assert.ok(p in pkg.dependencies, `${p} is imported at run time but is not a production dependency`);
  assert.ok(seen.size > 50, `followed ${seen.size} files`);
});
