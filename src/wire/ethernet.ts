/**
 * Ethernet II frames (IEEE 802.3 as the kernel sees them: no preamble, no
 * FCS) with any number of 802.1Q / 802.1ad VLAN tags, outermost first.
 * EtherType values are from include/uapi/linux/if_ether.h.
 *
 *   dst(6) src(6) [TPID(2) TCI(2)]* EtherType(2) payload
 *
 * The payload runs to the end of the buffer: a frame padded to the 60-byte
 * minimum keeps its padding, and the IP decoders bound their packet by the
 * IP length fields.
 */
import { DecodeError } from '../errors.js';
import { Reader } from './reader.js';

export const ETH_P = {
  IP: 0x0800, // ETH_P_IP
  ARP: 0x0806, // ETH_P_ARP
  '8021Q': 0x8100, // ETH_P_8021Q: 802.1Q VLAN tag
  IPV6: 0x86dd, // ETH_P_IPV6
  '8021AD': 0x88a8, // ETH_P_8021AD: 802.1ad service VLAN tag (QinQ outer tag)
} as const;

/** ETH_ALEN */
export const ETH_ALEN = 6;
/** ETH_HLEN: dst + src + EtherType, without tags. */
export const ETH_HLEN = 14;

export const BROADCAST_MAC = 'ff:ff:ff:ff:ff:ff';

/** One VLAN tag: its TPID (0x8100 or 0x88a8) and the TCI split into PCP, DEI and VID. */
export interface VlanTag {
  readonly tpid: number;
  /** Priority code point, 0-7. */
  readonly pcp: number;
  /** Drop eligible indicator (formerly CFI). */
  readonly dei: boolean;
  /** VLAN id, 0-4095. */
  readonly vid: number;
}

export interface EthernetFrame {
  /** Destination MAC (6 bytes; a view into the frame when decoded). */
  readonly dst: Uint8Array;
  readonly src: Uint8Array;
  /** VLAN tags, outermost first; empty when untagged. */
  readonly tags: readonly VlanTag[];
  /** EtherType after the tags (a value below 0x0600 is an 802.3 length, kept as is). */
  readonly etherType: number;
  readonly payload: Uint8Array;
}

function isTagTpid(t: number): boolean {
  return t === ETH_P['8021Q'] || t === ETH_P['8021AD'];
}

export function decodeEthernet(bytes: Uint8Array): EthernetFrame {
  const r = new Reader(bytes, 'ethernet');
  const dst = r.take(ETH_ALEN, 'destination');
  const src = r.take(ETH_ALEN, 'source');
  let etherType = r.u16be('ethertype');
  const tags: VlanTag[] = [];
  while (isTagTpid(etherType)) {
    const tci = r.u16be('vlan tci');
    tags.push({ tpid: etherType, pcp: tci >> 13, dei: (tci & 0x1000) !== 0, vid: tci & 0x0fff });
    etherType = r.u16be('ethertype');
  }
  return { dst, src, tags, etherType, payload: r.rest() };
}

export function encodeEthernet(frame: EthernetFrame): Uint8Array {
  if (frame.dst.length !== ETH_ALEN || frame.src.length !== ETH_ALEN) {
    throw new RangeError(`ethernet: addresses must be ${ETH_ALEN} bytes`);
  }
  const out = new Uint8Array(ETH_HLEN + 4 * frame.tags.length + frame.payload.length);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out.set(frame.dst, 0);
  out.set(frame.src, 6);
  let pos = 12;
  for (const t of frame.tags) {
    if (t.pcp < 0 || t.pcp > 7 || t.vid < 0 || t.vid > 0xfff) throw new RangeError(`ethernet: bad vlan tag pcp=${t.pcp} vid=${t.vid}`);
    view.setUint16(pos, t.tpid);
    view.setUint16(pos + 2, (t.pcp << 13) | (t.dei ? 0x1000 : 0) | t.vid);
    pos += 4;
  }
  view.setUint16(pos, frame.etherType);
  out.set(frame.payload, pos + 2);
  return out;
}

export function formatMac(bytes: Uint8Array): string {
  if (bytes.length !== ETH_ALEN) throw new DecodeError('mac address', `expected ${ETH_ALEN} bytes, got ${bytes.length}`, 0);
  let s = '';
  for (let i = 0; i < ETH_ALEN; i++) s += (i ? ':' : '') + bytes[i]!.toString(16).padStart(2, '0');
  return s;
}

/** Parses "aa:bb:cc:dd:ee:ff" (also with '-' separators, any case) into 6 bytes. */
export function parseMac(text: string): Uint8Array {
  const m = /^([0-9a-f]{2})([:-])([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})$/i.exec(text);
  if (!m) throw new DecodeError('mac address', `not a MAC address: ${JSON.stringify(text)}`, 0);
  const out = new Uint8Array(ETH_ALEN);
  for (let i = 0; i < ETH_ALEN; i++) out[i] = parseInt(m[i === 0 ? 1 : i + 2]!, 16);
  return out;
}

/** True for ff:ff:ff:ff:ff:ff. */
export function isBroadcastMac(bytes: Uint8Array): boolean {
  if (bytes.length !== ETH_ALEN) return false;
  for (let i = 0; i < ETH_ALEN; i++) if (bytes[i] !== 0xff) return false;
  return true;
}
