/**
 * A plan as the commands an operator would type: `ip`, `sysctl -w` and
 * `nft -f -` with the ruleset as a here-document. Used by --dry-run, the
 * per-change log lines and the reports of --once and --clean.
 *
 *   ip link add ipip0 type ipip external
 *   ip link set dev ipip0 alias 'pathguard realserver' up
 *   ip -4 addr add 198.51.100.10/32 dev lo proto 112
 *   sysctl -w net.ipv4.conf.all.arp_ignore=1   # was 0: do not answer ARP for the VIPs on lo
 */
import { DEVICE_ALIAS, IFAPROT_PATHGUARD } from './desired.js';
import type { Change, Plan } from './plan.js';

/** One line describing a change (no ruleset body). */
export function changeText(c: Change): string {
  switch (c.kind) {
    case 'device-add':
      return `ip link add ${c.device.name} type ${c.device.kind} external`;
    case 'device-up':
      return `ip link set dev ${c.device.name} up`;
    case 'device-del':
      return `ip link del dev ${c.name}`;
    case 'vip-add':
      return `ip -${c.vip.family} addr add ${c.vip.address}/${c.vip.prefixlen} dev lo proto ${IFAPROT_PATHGUARD}`;
    case 'vip-del':
      return `ip -${c.vip.family} addr del ${c.vip.address}/${c.vip.prefixlen} dev lo`;
    case 'sysctl':
      return `sysctl -w ${c.key}=${c.to}   # ${c.from === undefined ? 'new' : `was ${c.from}`}: ${c.why}`;
    case 'sysctl-restore':
      return `sysctl -w ${c.key}=${c.to}   # restores the value from before pathguard (now ${c.from})`;
    case 'nft-apply':
      return `nft -f -   # table inet pathguard_realserver: ${c.reason}`;
    case 'nft-remove':
      return 'nft delete table inet pathguard_realserver';
  }
}

/** The plan as commands, in application order; the ruleset in full after `nft -f -`. */
export function formatPlan(p: Plan): string[] {
  const out: string[] = [];
  for (const c of p.changes) {
    out.push(changeText(c));
    if (c.kind === 'device-add') out.push(`ip link set dev ${c.device.name} alias '${DEVICE_ALIAS}' up`);
    if (c.kind === 'nft-apply') {
      out[out.length - 1] = `nft -f - <<'EOF'   # ${c.reason}`;
      out.push(...c.ruleset.trimEnd().split('\n'), 'EOF');
    }
  }
  return out;
}
