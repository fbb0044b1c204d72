/**
 * Network-namespace labs for integration tests: the same builder the demo
 * uses (src/demo/netns-lab.ts). Every namespace is deleted when `withLab`'s
 * callback ends, also when it throws; names start with `pgt-`.
 */
export * from '../../src/demo/netns-lab.js';
