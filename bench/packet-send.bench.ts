/**
 * PacketSender throughput: a 576-byte IPv4 packet to 3 peer MACs over a veth
 * pair between two lab namespaces, the relay's `l2` fan-out.
 *
 *   fan-out:  one sendmmsg per message (3 frames), as the relay sends one
 *             captured message to its peers;
 *   batched:  21 messages x 3 MACs = 63 frames per sendmmsg, as the relay
 *             sends when it drains a burst.
 *
 * Each scenario runs 5 times for about 2 s; the median run is printed as
 * frames/s and ns/frame. Every message gets a fresh view of the payload pool,
 * as the relay hands over views of its receive buffers. The destination MACs
 * are documentation MACs (RFC 7042), so the receiving namespace drops the
 * frames as PACKET_OTHERHOST right after the veth: the figure is the send
 * path plus veth delivery, both on this machine's CPU.
 *
 * Needs root (network namespaces); prints why and exits 0 otherwise.
 */
import { withLab, labUnavailable } from '../test/harness/netns.js';
import { withNetns } from '../src/sys/netns.js';
import { PacketSender, type Frame } from '../src/net/packet-socket.js';
import { ETH_P, parseMac } from '../src/wire/ethernet.js';

const PACKET_SIZE = 576;
const RUN_MS = 2000;
const RUNS = 5;
const MACS = ['00:00:5e:00:53:01', '00:00:5e:00:53:02', '00:00:5e:00:53:03'].map(parseMac);

interface Run {
  frames: number;
  failed: number;
  ns: number;
}

function median(values: number[]): number {
  const s = [...values].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)]!;
}

/** A 576-byte IPv4 packet (header fields only; the receiver drops it before IP) at every 1024-byte step of a pool. */
function payloadPool(count: number): Uint8Array {
  const pool = Buffer.alloc(count * 1024);
  for (let k = 0; k < count; k++) {
    const p = pool.subarray(k * 1024);
    p[0] = 0x45;
    p.writeUInt16BE(PACKET_SIZE, 2);
    p[8] = 64;
    p[9] = 1;
    p.set([192, 0, 2, 1, 192, 0, 2, 2], 12);
  }
  return pool;
}

function runFanOut(sender: PacketSender, pool: Uint8Array, slots: number): Run {
  let frames = 0;
  let failed = 0;
  let k = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(RUN_MS) * 1_000_000n;
  let now = start;
  while (now < deadline) {
    for (let j = 0; j < 64; j++) {
      const payload = pool.subarray(k * 1024, k * 1024 + PACKET_SIZE);
      k = (k + 1) % slots;
      const r = sender.sendToEach(payload, ETH_P.IP, MACS);
      frames += r.sent;
      failed += r.failed;
    }
    now = process.hrtime.bigint();
  }
  return { frames, failed, ns: Number(now - start) };
}

function runBatched(sender: PacketSender, pool: Uint8Array, slots: number): Run {
  const messages = Math.floor(sender.batchSize / MACS.length);
  const frames: { payload: Uint8Array; mac: Uint8Array; protocol: number }[] = [];
  for (let m = 0; m < messages; m++) for (const mac of MACS) frames.push({ payload: pool, mac, protocol: ETH_P.IP });
  let sent = 0;
  let failed = 0;
  let k = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(RUN_MS) * 1_000_000n;
  let now = start;
  while (now < deadline) {
    for (let j = 0; j < 8; j++) {
      for (let m = 0; m < messages; m++) {
        const payload = pool.subarray(k * 1024, k * 1024 + PACKET_SIZE);
        k = (k + 1) % slots;
        for (let x = 0; x < MACS.length; x++) frames[m * MACS.length + x]!.payload = payload;
      }
      const r = sender.sendTo(frames as readonly Frame[]);
      sent += r.sent;
      failed += r.failed;
    }
    now = process.hrtime.bigint();
  }
  return { frames: sent, failed, ns: Number(now - start) };
}

function report(name: string, runs: Run[]): void {
  const rates = runs.map((r) => (r.frames * 1e9) / r.ns);
  const rate = median(rates);
  const failed = runs.reduce((s, r) => s + r.failed, 0);
  console.log(
    `packet-send ${name}: ${Math.round(rate).toLocaleString('en-US')} frames/s, ${Math.round(1e9 / rate)} ns/frame ` +
      `(median of ${runs.length} x ${RUN_MS} ms; runs ${rates.map((x) => Math.round(x)).join(' ')} frames/s; failed frames ${failed})`,
  );
}

async function main(): Promise<void> {
  const why = labUnavailable();
  if (why) {
    console.log(`packet-send: skipped: ${why}`);
    return;
  }
  await withLab('bench', async (lab) => {
    const a = await lab.ns('a');
    const b = await lab.ns('b');
    await lab.veth(a, 'eth0', b, 'eth0');
    const sender = withNetns(a.path, () => PacketSender.open({ device: 'eth0', batch: 63 }));
    try {
      const slots = 256;
      const pool = payloadPool(slots);
      runFanOut(sender, pool, slots); // warm-up (JIT, neighbour-free path, page faults)
      const fan: Run[] = [];
      for (let i = 0; i < RUNS; i++) fan.push(runFanOut(sender, pool, slots));
      report('fan-out (3 frames per sendmmsg)', fan);
      const batched: Run[] = [];
      for (let i = 0; i < RUNS; i++) batched.push(runBatched(sender, pool, slots));
      report(`batched (${sender.batchSize} frames per sendmmsg)`, batched);
      const stats = await b.ipJson<{ stats64?: { rx?: { packets?: number } } }[]>('-s', 'link', 'show', 'eth0');
      const sent = [...fan, ...batched].reduce((s, r) => s + r.frames, 0);
      console.log(`packet-send: receiving veth counted ${stats[0]?.stats64?.rx?.packets ?? '?'} packets for ${sent} frames sent (plus warm-up)`);
    } finally {
      sender.close();
    }
  });
}

await main();
