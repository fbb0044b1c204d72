/**
 * Reading the files tcpdump -w writes (libpcap format, microsecond or
 * nanosecond timestamps) for the latency figures.
 */

/** Records of a pcap file (libpcap format, either timestamp precision) with time in ns from the first record. */
export function readPcap(buf: Buffer): { t: number; frame: Buffer }[] {
  if (buf.byteLength < 24) return [];
  const magic = buf.readUInt32LE(0);
  if (magic !== 0xa1b2c3d4 && magic !== 0xa1b23c4d) throw new Error(`unexpected pcap magic 0x${magic.toString(16)}`);
  const nano = magic === 0xa1b23c4d;
  const out: { t: number; frame: Buffer }[] = [];
  let sec0: number | undefined;
  for (let off = 24; off + 16 <= buf.byteLength; ) {
    const sec = buf.readUInt32LE(off);
    const frac = buf.readUInt32LE(off + 4);
    const incl = buf.readUInt32LE(off + 8);
    sec0 ??= sec;
    out.push({ t: (sec - sec0) * 1e9 + (nano ? frac : frac * 1000), frame: buf.subarray(off + 16, off + 16 + incl) });
    off += 16 + incl;
  }
  return out;
}
