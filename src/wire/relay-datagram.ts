/**
 * The `udp` transport's datagram: a captured ICMP "too big" IP packet,
 * verbatim, behind a small header. pathguard's own format (UDP port
 * --relay-port between pathguard agents):
 *
 *    0      2      3      4                8                 8+M
 *   +------+------+------+----------------+-----------------+------------------+
 *   | 'PG' | ver  | flags| unix time (s)  | HMAC (M bytes)  | IP packet ...    |
 *   +------+------+------+----------------+-----------------+------------------+
 *
 *   ver    1
 *   flags  bit 0: an HMAC-SHA256 (M = 32) follows; without it M = 0
 *   time   big-endian seconds since the epoch when the sender relayed it; the
 *          receiver refuses datagrams outside its clock-skew window, so a
 *          captured datagram cannot be replayed later to lower MTUs again
 *   HMAC   over bytes [0, 8) and the IP packet, keyed with --key-file
 *
 * Everything multi-byte is network order. Decoding never throws: a bad
 * datagram is a reason from a fixed set (metric labels).
 */

export const RELAY_MAGIC_0 = 0x50; // 'P'
export const RELAY_MAGIC_1 = 0x47; // 'G'
export const RELAY_VERSION = 1;
export const RELAY_FLAG_HMAC = 0x01;
export const RELAY_HEADER_LEN = 8;
export const RELAY_HMAC_LEN = 32;

export const RELAY_DATAGRAM_REJECT = ['short_datagram', 'bad_magic', 'bad_version', 'missing_hmac', 'unexpected_hmac'] as const;
export type RelayDatagramReject = (typeof RELAY_DATAGRAM_REJECT)[number];

export interface RelayDatagram {
  readonly version: number;
  readonly flags: number;
  /** Seconds since the epoch, as sent. */
  readonly time: number;
  /** The HMAC when present (a view). */
  readonly hmac?: Uint8Array;
  /** Bytes the HMAC covers besides the packet: the 8-byte header (a view). */
  readonly header: Uint8Array;
  /** The relayed IP packet (a view). */
  readonly packet: Uint8Array;
}

export type RelayDatagramResult =
  | { readonly ok: true; readonly value: RelayDatagram }
  | { readonly ok: false; readonly reason: RelayDatagramReject };

/** Length of the header, with room for the HMAC when `withHmac`. */
export function relayHeaderLength(withHmac: boolean): number {
  return RELAY_HEADER_LEN + (withHmac ? RELAY_HMAC_LEN : 0);
}

/**
 * Writes the header into `out` at `offset` (the HMAC bytes, if any, are left
 * for the caller to fill after computing it). Returns the offset where the
 * packet goes.
 */
export function writeRelayHeader(out: Uint8Array, offset: number, timeS: number, withHmac: boolean): number {
  out[offset] = RELAY_MAGIC_0;
  out[offset + 1] = RELAY_MAGIC_1;
  out[offset + 2] = RELAY_VERSION;
  out[offset + 3] = withHmac ? RELAY_FLAG_HMAC : 0;
  const t = timeS >>> 0;
  out[offset + 4] = t >>> 24;
  out[offset + 5] = (t >>> 16) & 0xff;
  out[offset + 6] = (t >>> 8) & 0xff;
  out[offset + 7] = t & 0xff;
  return offset + relayHeaderLength(withHmac);
}

/** Encodes a whole datagram (allocates once); `hmac` must be 32 bytes when given. */
export function encodeRelayDatagram(packet: Uint8Array, timeS: number, hmac?: Uint8Array): Uint8Array {
  if (hmac && hmac.byteLength !== RELAY_HMAC_LEN) throw new RangeError(`the HMAC is ${RELAY_HMAC_LEN} bytes, got ${hmac.byteLength}`);
  const out = new Uint8Array(relayHeaderLength(!!hmac) + packet.byteLength);
  const at = writeRelayHeader(out, 0, timeS, !!hmac);
  if (hmac) out.set(hmac, RELAY_HEADER_LEN);
  out.set(packet, at);
  return out;
}

/**
 * Decodes a datagram. `expectHmac` is the receiver's policy (a key is
 * configured): a datagram without an HMAC is then refused, and one with an
 * HMAC is refused by a receiver without a key (it could not check it).
 */
export function decodeRelayDatagram(bytes: Uint8Array, expectHmac: boolean): RelayDatagramResult {
  if (bytes.byteLength < RELAY_HEADER_LEN) return { ok: false, reason: 'short_datagram' };
  if (bytes[0] !== RELAY_MAGIC_0 || bytes[1] !== RELAY_MAGIC_1) return { ok: false, reason: 'bad_magic' };
  const version = bytes[2]!;
  if (version !== RELAY_VERSION) return { ok: false, reason: 'bad_version' };
  const flags = bytes[3]!;
  const hasHmac = (flags & RELAY_FLAG_HMAC) !== 0;
  if (expectHmac && !hasHmac) return { ok: false, reason: 'missing_hmac' };
  if (!expectHmac && hasHmac) return { ok: false, reason: 'unexpected_hmac' };
  const time = ((bytes[4]! << 24) | (bytes[5]! << 16) | (bytes[6]! << 8) | bytes[7]!) >>> 0;
  const start = relayHeaderLength(hasHmac);
  if (bytes.byteLength < start) return { ok: false, reason: 'short_datagram' };
  const header = bytes.subarray(0, RELAY_HEADER_LEN);
  const packet = bytes.subarray(start);
  if (hasHmac) {
    return { ok: true, value: { version, flags, time, header, packet, hmac: bytes.subarray(RELAY_HEADER_LEN, start) } };
  }
  return { ok: true, value: { version, flags, time, header, packet } };
}
