// The README's hand-managed capture rules must be rules nftables accepts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { labUnavailable, withLab } from '../../harness/netns.js';

const skip = labUnavailable();
const README = fileURLToPath(new URL('../../../../README.md', import.meta.url));

/** The fenced block that starts with `first`. */
function block(text: string, first: string): string {
  const lines = text.split('\n');
  const at = lines.indexOf(first);
  assert.ok(at >= 0, `README has no block starting with ${first}`);
  const end = lines.indexOf('```', at);
  return lines.slice(at + 1, end).join('\n');
}

test('the nftables rules in the README load (nft -c) and log too-big messages to the group', { skip }, async () => {
  const rules = block(readFileSync(README, 'utf8'), '# nftables (nft -f FILE)');
  assert.match(rules, /log group 33/);
  await withLab('readme', async (lab) => {
    const ns = await lab.ns('n');
    await ns.exec('nft', ['-c', '-f', '-'], { input: rules });
  });
});
