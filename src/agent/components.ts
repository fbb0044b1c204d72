/**
 * Every component `pathguard agent` can host, in the order they start (and
 * the reverse of the order they stop). Adding a component is adding its
 * folder and one line here.
 */
import type { ComponentDefinition } from '../obs/component.js';
import { relayComponent } from '../relay/component.js';
import { routesComponent } from '../routes/component.js';
import { realserverComponent } from '../realserver/component.js';
import { doctorComponent } from '../doctor/component.js';

export const COMPONENTS: readonly ComponentDefinition<any>[] = [relayComponent, routesComponent, realserverComponent, doctorComponent];

export const COMPONENT_NAMES = COMPONENTS.map((c) => c.name);
