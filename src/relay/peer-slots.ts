/**
 * Which per-peer error counter (a slot in RelayStats' shared memory) belongs
 * to which peer, kept stable while the peer set changes.
 *
 * The metric pathguard_relay_send_errors_total{peer} is a Prometheus counter:
 * a peer's series must never jump to another peer's count or go down. So a
 * peer keeps its slot for as long as it stays in the set; a new peer takes a
 * slot never used before, and only when none is left a freed one, whose count
 * so far becomes that peer's zero (the baseline). When there are more peers
 * than slots, the rest share the last slot and are reported together as
 * peer="other".
 *
 * Runs on the main thread; the data plane only ever sees slot numbers.
 */
export const OTHER_PEERS = 'other';

export interface PeerErrorSample {
  readonly peer: string;
  readonly value: number;
}

export class PeerSlots {
  private readonly bySlot = new Map<string, number>();
  private readonly baseline: Float64Array;
  /** Slots freed by peers that left, oldest first. */
  private readonly freed: number[] = [];
  private nextFresh = 0;

  /** `slots` counters in all; the last one is shared by the peers that do not fit. */
  constructor(private readonly slots: number) {
    if (!Number.isInteger(slots) || slots < 2) throw new RangeError(`PeerSlots needs at least 2 slots, got ${slots}`);
    this.baseline = new Float64Array(slots);
  }

  get overflowSlot(): number {
    return this.slots - 1;
  }

  /**
   * Makes `peers` the current set: peers that stay keep their slot, peers that
   * left free theirs, new ones get one. `count(slot)` reads a slot's current
   * value, so a reused slot starts from zero for its new peer.
   */
  update(peers: readonly string[], count: (slot: number) => number): void {
    const wanted = new Set(peers);
    for (const [peer, slot] of this.bySlot) {
      if (!wanted.has(peer)) {
        this.bySlot.delete(peer);
        this.freed.push(slot);
      }
    }
    for (const peer of wanted) {
      if (this.bySlot.has(peer)) continue;
      let slot: number | undefined;
      if (this.nextFresh < this.overflowSlot) slot = this.nextFresh++;
      else slot = this.freed.shift();
      if (slot === undefined) continue; // no room: counted in the overflow slot
      this.baseline[slot] = count(slot);
      this.bySlot.set(peer, slot);
    }
  }

  /** The slot `peer`'s send errors go to (the overflow slot for a peer without its own). */
  slotOf(peer: string): number {
    return this.bySlot.get(peer) ?? this.overflowSlot;
  }

  /**
   * One sample per current peer with its own slot, in `peers` order, and one
   * peer="other" sample when some current peers share the overflow slot.
   */
  samples(peers: readonly string[], count: (slot: number) => number): PeerErrorSample[] {
    const out: PeerErrorSample[] = [];
    let overflow = false;
    for (const peer of peers) {
      const slot = this.bySlot.get(peer);
      if (slot === undefined) overflow = true;
      else out.push({ peer, value: count(slot) - this.baseline[slot]! });
    }
    if (overflow) out.push({ peer: OTHER_PEERS, value: count(this.overflowSlot) });
    return out;
  }
}
