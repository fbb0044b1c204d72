#!/usr/bin/env node
// Enforces the layering in ../shared/design.md on every file under src/:
//   cli -> agent -> components -> adapters -> net -> sys -> wire
// - an import may only point to the same layer or a lower one;
// - src/wire imports nothing from node:*, npm packages or other folders
//   (src/errors.ts, which imports nothing itself, is allowed everywhere);
// - only src/sys imports koffi.
// Import specifiers are read with the TypeScript parser, not with regexes,
// so comments and strings that look like imports are not counted.
import ts from 'typescript';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve, sep } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const src = join(root, 'src');

const RANK = {
  wire: 0,
  sys: 1,
  net: 2,
  k8s: 3, firewall: 3, obs: 3, config: 3,
  relay: 4, routes: 4, peers: 4, realserver: 4, doctor: 4, probe: 4, trace: 4, demo: 4, status: 4,
  agent: 5,
  cli: 6,
};

function walk(dir) {
  let out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(walk(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

function layerOf(file) {
  const rel = relative(src, file).split(sep);
  if (rel.length === 1) return { name: rel[0], rank: -1 }; // src/errors.ts and friends
  const name = rel[0];
  if (!(name in RANK)) return { name, rank: undefined };
  return { name, rank: RANK[name] };
}

function importsOf(file) {
  const text = readFileSync(file, 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const out = [];
  const visit = (node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      out.push({ spec: node.moduleSpecifier.text, line: sf.getLineAndCharacterOfPosition(node.getStart()).line + 1 });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      out.push({ spec: node.arguments[0].text, line: sf.getLineAndCharacterOfPosition(node.getStart()).line + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

const problems = [];
for (const file of walk(src)) {
  const from = layerOf(file);
  const relFile = relative(root, file);
  if (from.rank === undefined) {
    problems.push(`${relFile}: folder src/${from.name} is not a known layer (add it to scripts/lint-layers.mjs)`);
    continue;
  }
  for (const { spec, line } of importsOf(file)) {
    const where = `${relFile}:${line}`;
    const relative_ = spec.startsWith('.');
    if (spec === 'koffi' && from.name !== 'sys') {
      problems.push(`${where}: only src/sys may import koffi (found in src/${from.name})`);
    }
    if (!relative_) {
      if (from.name === 'wire') problems.push(`${where}: src/wire must not import '${spec}' (wire is pure: no node:*, no packages)`);
      continue;
    }
    const target = resolve(dirname(file), spec);
    if (!target.startsWith(src + sep)) {
      problems.push(`${where}: import '${spec}' leaves src/`);
      continue;
    }
    const to = layerOf(target);
    if (to.rank === -1) continue; // src/errors.ts
    if (from.name === 'wire' && to.name !== 'wire') {
      problems.push(`${where}: src/wire must not import from src/${to.name}`);
      continue;
    }
    if (to.rank === undefined || to.rank > from.rank) {
      problems.push(`${where}: src/${from.name} (layer ${from.rank}) must not import src/${to.name} (layer ${to.rank}); dependencies point down`);
    }
  }
}

if (problems.length > 0) {
  console.error(`lint: ${problems.length} layering problem(s):`);
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}
console.log('lint: layering ok');
