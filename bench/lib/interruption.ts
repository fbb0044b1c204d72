/**
 * Ctrl-C during a benchmark: instead of dying with the lab's namespaces and
 * the relay left behind, the first SIGINT is remembered and the benchmark
 * throws at its next step boundary, so withLab's teardown and the relay's
 * shutdown run as on any other error. A second SIGINT exits at once.
 */
let requested = false;

export function catchInterrupt(name: string): void {
  process.on('SIGINT', () => {
    if (requested) process.exit(130);
    requested = true;
    console.error(`\n${name}: interrupted; stopping after this step and removing the lab (Ctrl-C again to exit at once)`);
  });
}

/** Throws when SIGINT has arrived (call between steps). */
export function checkInterrupt(): void {
  if (requested) throw new Error('interrupted');
}
