/**
 * Every component `pathguard agent` can host, in the order they start (and
 * the reverse of the order they stop). Adding a component is adding its
 * folder and one line here.
 *
 * Each is loaded only when it runs: every command's start-up (and
 * `pathguard --help`) stays as lean as the command itself.
 */
import type { ComponentDefinition } from '../obs/component.js';

export interface ComponentEntry {
  readonly name: string;
  /** One line for `pathguard agent --help`. */
  readonly summary: string;
  load(): Promise<ComponentDefinition<any>>;
}

export const COMPONENTS: readonly ComponentEntry[] = [
  { name: 'relay', summary: 'relays ICMP "fragmentation needed" / "packet too big" to every other node', load: async () => (await import('../relay/component.js')).relayComponent },
  { name: 'routes', summary: 'return-path policy routing for MetalLB BGP pools', load: async () => (await import('../routes/component.js')).routesComponent },
  { name: 'realserver', summary: 'keeps an LVS-IPIP realserver set up', load: async () => (await import('../realserver/component.js')).realserverComponent },
  { name: 'doctor', summary: 'names node misconfigurations that eat packets, at start and every doctor.interval', load: async () => (await import('../doctor/component.js')).doctorComponent },
];

export const COMPONENT_NAMES = COMPONENTS.map((c) => c.name);
