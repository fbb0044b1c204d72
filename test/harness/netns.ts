/**
 * Network-namespace labs for integration tests: the same builder and the
 * same teardown the demo uses (src/demo/netns-lab.ts). Every namespace is
 * deleted when `withLab`'s callback ends, also when it throws, after every
 * process inside it has been ended; names start with `pgt-<owner pid>-`,
 * the owner being the test runner (scripts/run-tests.mjs), which sweeps the
 * labs of finished runs before it starts and fails when its own are left.
 */
export * from '../../src/demo/netns-lab.js';
