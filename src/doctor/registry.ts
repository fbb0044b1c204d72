/**
 * Every check the doctor knows, in the order findings are reported. Ids are
 * stable: they are what `--check` selects, what the JSON carries and what
 * the `pathguard_doctor_findings{check,severity}` metric is labelled with.
 */
import type { Check } from './check.js';
import { icmpFiltered } from './checks/icmp-filtered.js';
import { ipv6MinMtu, mssClamp, mtuOverhead, pmtudDisabled, podMtu, tcpMtuProbing } from './checks/mtu.js';
import { conntrackFull, doubleSnat } from './checks/netfilter.js';
import { rpFilter } from './checks/rp-filter.js';
import { forwarding, multipathNeigh, returnRoute } from './checks/routing.js';
import { arpVip, relayMissing } from './checks/services.js';

export const CHECKS: readonly Check[] = [
  rpFilter,
  icmpFiltered,
  mtuOverhead,
  podMtu,
  doubleSnat,
  pmtudDisabled,
  tcpMtuProbing,
  multipathNeigh,
  relayMissing,
  mssClamp,
  returnRoute,
  ipv6MinMtu,
  arpVip,
  forwarding,
  conntrackFull,
];

export const CHECK_IDS: readonly string[] = CHECKS.map((c) => c.id);

/** The id of the finding a check that throws becomes. */
export const INTERNAL_ID = 'internal';
