/**
 * The consumer side of a BPF ring buffer map (BPF_MAP_TYPE_RINGBUF,
 * kernel/bpf/ringbuf.c), read from shared memory without a syscall per
 * record.
 *
 * Mappings of the map's fd:
 *   offset 0, one page, read-write:   consumer_pos (u64) — we advance it
 *   offset 1 page, read-only:         producer_pos (u64) on the first page,
 *                                     then the data area mapped twice in a
 *                                     row, so a record that wraps is still
 *                                     contiguous
 * Each record: u32 len (bit 31 BPF_RINGBUF_BUSY_BIT: not yet committed,
 * bit 30 BPF_RINGBUF_DISCARD_BIT: skip), u32 page offset, then the data,
 * the whole rounded up to 8 bytes (BPF_RINGBUF_HDR_SZ = 8).
 *
 * The fd is pollable, but the tracer's programs write with BPF_RB_NO_WAKEUP
 * (a wakeup per record costs more than the record at high rates), so the
 * reader drains on a timer: poll().
 */
import { BPF_MAP_TYPE, mapCreate, mmapFd, munmap, type Mapping } from '../sys/bpf.js';
import { close } from '../sys/libc.js';

const PAGE = 4096;
const BUSY = 0x80000000; // BPF_RINGBUF_BUSY_BIT
const DISCARD = 0x40000000; // BPF_RINGBUF_DISCARD_BIT
const HDR = 8; // BPF_RINGBUF_HDR_SZ

export class BpfRingBuffer {
  readonly fd: number;
  readonly size: number;
  private readonly consumer: Mapping;
  private readonly producer: Mapping;
  private readonly consumerPos: BigUint64Array;
  private readonly producerPos: BigUint64Array;
  private readonly data: Uint8Array;
  private readonly dataView: DataView;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  /** Creates the map; `size` is a power of two, a multiple of the page size. */
  constructor(size: number, name = 'pg_events') {
    if (size < PAGE || (size & (size - 1)) !== 0) throw new RangeError(`ring buffer size ${size} must be a power of two of at least ${PAGE}`);
    this.size = size;
    this.fd = mapCreate({ type: BPF_MAP_TYPE.RINGBUF, keySize: 0, valueSize: 0, maxEntries: size, name });
    try {
      this.consumer = mmapFd(this.fd, PAGE, 0, true);
      this.producer = mmapFd(this.fd, PAGE + 2 * size, PAGE, false);
    } catch (err) {
      close(this.fd);
      throw err;
    }
    this.consumerPos = new BigUint64Array(this.consumer.bytes.buffer, this.consumer.bytes.byteOffset, 1);
    this.producerPos = new BigUint64Array(this.producer.bytes.buffer, this.producer.bytes.byteOffset, 1);
    this.data = this.producer.bytes.subarray(PAGE);
    this.dataView = new DataView(this.data.buffer, this.data.byteOffset, this.data.byteLength);
  }

  /**
   * Hands every committed record to `onRecord` (a view into the shared
   * memory, valid only during the call) and releases it; returns how many.
   */
  drain(onRecord: (record: Uint8Array) => void, max = Infinity): number {
    if (this.closed) return 0;
    let cons = this.consumerPos[0]!;
    const prod = this.producerPos[0]!;
    const mask = BigInt(this.size - 1);
    let n = 0;
    while (cons < prod && n < max) {
      const at = Number(cons & mask);
      const lenWord = this.dataView.getUint32(at, true);
      if (lenWord & BUSY) break; // reserved, not yet submitted
      const len = lenWord & ~(BUSY | DISCARD);
      const total = (len + HDR + 7) & ~7;
      if (!(lenWord & DISCARD)) {
        onRecord(this.data.subarray(at + HDR, at + HDR + len));
        n++;
      }
      cons += BigInt(total);
      // the producer may reuse the space once consumer_pos moves past it (smp_store_release in libbpf; x86/arm64 stores to one location are ordered for this single writer)
      this.consumerPos[0] = cons;
    }
    return n;
  }

  /** Bytes committed or reserved and not yet consumed. */
  pending(): number {
    return Number(this.producerPos[0]! - this.consumerPos[0]!);
  }

  /** Calls `onTick` every `intervalMs` (for producers that write with BPF_RB_NO_WAKEUP). */
  poll(intervalMs: number, onTick: () => void): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = setInterval(onTick, intervalMs);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    munmap(this.producer);
    munmap(this.consumer);
    close(this.fd);
  }
}
