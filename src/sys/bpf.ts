/**
 * The bpf(2) system call and mmap(2), for the tracer: maps, program load
 * (with the verifier's log on refusal), raw-tracepoint attach, object info
 * and id walks. `union bpf_attr` is laid out by hand per command
 * (include/uapi/linux/bpf.h); the kernel requires every byte past the fields
 * a command uses to be zero, so each attr starts from a zeroed buffer.
 *
 * The library is loaded on first use, never at import time.
 */
import koffi from 'koffi';
import { SyscallError } from '../errors.js';
import { errnoName, libcHandle } from './libc.js';

/** enum bpf_cmd */
export const BPF_CMD = {
  MAP_CREATE: 0,
  MAP_LOOKUP_ELEM: 1,
  MAP_UPDATE_ELEM: 2,
  MAP_DELETE_ELEM: 3,
  MAP_GET_NEXT_KEY: 4,
  PROG_LOAD: 5,
  PROG_GET_NEXT_ID: 11,
  MAP_GET_NEXT_ID: 12,
  PROG_GET_FD_BY_ID: 13,
  MAP_GET_FD_BY_ID: 14,
  OBJ_GET_INFO_BY_FD: 15,
  RAW_TRACEPOINT_OPEN: 17,
  BTF_LOAD: 18,
  LINK_GET_FD_BY_ID: 30,
  LINK_GET_NEXT_ID: 31,
  ENABLE_STATS: 32,
} as const;

/** enum bpf_map_type (the ones pathguard uses). */
export const BPF_MAP_TYPE = {
  HASH: 1,
  ARRAY: 2,
  PERCPU_ARRAY: 6,
  LRU_HASH: 9,
  RINGBUF: 27,
} as const;

/** enum bpf_prog_type (the ones pathguard uses). */
export const BPF_PROG_TYPE = {
  TRACEPOINT: 5,
  RAW_TRACEPOINT: 17,
} as const;

/** BPF_ANY / BPF_NOEXIST / BPF_EXIST: map update flags. */
export const BPF_UPDATE = { ANY: 0, NOEXIST: 1, EXIST: 2 } as const;

const SYS_BPF = process.arch === 'arm64' ? 280 : 321; // __NR_bpf: arch/x86/entry/syscalls/syscall_64.tbl, asm-generic/unistd.h
const PROT = { READ: 1, WRITE: 2 } as const;
const MAP_SHARED = 1;

interface BpfLib {
  syscall: (nr: number, ...args: unknown[]) => number | bigint;
  mmap: (addr: null, len: number, prot: number, flags: number, fd: number, off: number) => bigint;
  munmap: (addr: bigint, len: number) => number;
}

let bpflib: BpfLib | undefined;

function lib(): BpfLib {
  if (bpflib) return bpflib;
  const l = libcHandle();
  bpflib = {
    syscall: l.func('intptr_t syscall(intptr_t, ...)'),
    mmap: l.func('void *mmap(void *, size_t, int, int, int, intptr_t)'),
    munmap: l.func('int munmap(void *, size_t)'),
  } as BpfLib;
  return bpflib;
}

/** A program the verifier refused: the errno and the verifier's own explanation. */
export class VerifierError extends SyscallError {
  readonly log: string;
  readonly program: string;
  constructor(program: string, errno: number, log: string) {
    const tail = log.trim().split('\n').slice(-12).join('\n');
    super('bpf(BPF_PROG_LOAD)', errno, errnoName(errno), `the verifier refused program ${program}:\n${tail}`);
    this.log = log;
    this.program = program;
  }
}

function raw(cmd: number, attr: Uint8Array): number {
  return Number(lib().syscall(SYS_BPF, 'int', cmd, 'void *', attr, 'uint32_t', attr.byteLength));
}

function bpf(cmd: number, attr: Uint8Array, what: string): number {
  const r = raw(cmd, attr);
  if (r < 0) {
    const e = koffi.errno();
    throw new SyscallError(`bpf(${what})`, e, errnoName(e));
  }
  return r;
}

function attr(size: number): { buf: Uint8Array; view: DataView } {
  const buf = new Uint8Array(size);
  return { buf, view: new DataView(buf.buffer) };
}

function setName(buf: Uint8Array, at: number, name: string): void {
  // BPF_OBJ_NAME_LEN 16, NUL-terminated; the kernel accepts [A-Za-z0-9_.]
  const clean = name.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 15);
  buf.set(new TextEncoder().encode(clean), at);
}

function ptr(b: Uint8Array): bigint {
  return koffi.address(b) as bigint;
}

export interface MapSpec {
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags?: number;
  readonly name: string;
}

/** BPF_MAP_CREATE; returns the map's file descriptor. */
export function mapCreate(spec: MapSpec): number {
  const { buf, view } = attr(72);
  view.setUint32(0, spec.type, true); // map_type
  view.setUint32(4, spec.keySize, true); // key_size
  view.setUint32(8, spec.valueSize, true); // value_size
  view.setUint32(12, spec.maxEntries, true); // max_entries
  view.setUint32(16, spec.flags ?? 0, true); // map_flags
  setName(buf, 28, spec.name); // map_name[BPF_OBJ_NAME_LEN]
  return bpf(BPF_CMD.MAP_CREATE, buf, `BPF_MAP_CREATE ${spec.name}`);
}

function elemAttr(fd: number, key: Uint8Array | null, value: Uint8Array | null, flags: number): Uint8Array {
  // struct { __u32 map_fd; __aligned_u64 key; union { value, next_key }; __u64 flags; }
  const { buf, view } = attr(32);
  view.setUint32(0, fd, true);
  view.setBigUint64(8, key ? ptr(key) : 0n, true);
  view.setBigUint64(16, value ? ptr(value) : 0n, true);
  view.setBigUint64(24, BigInt(flags), true);
  return buf;
}

/** BPF_MAP_UPDATE_ELEM */
export function mapUpdate(fd: number, key: Uint8Array, value: Uint8Array, flags: number = BPF_UPDATE.ANY): void {
  bpf(BPF_CMD.MAP_UPDATE_ELEM, elemAttr(fd, key, value, flags), 'BPF_MAP_UPDATE_ELEM');
}

/** BPF_MAP_LOOKUP_ELEM into `value`; false when the key is absent (ENOENT). */
export function mapLookup(fd: number, key: Uint8Array, value: Uint8Array): boolean {
  const r = raw(BPF_CMD.MAP_LOOKUP_ELEM, elemAttr(fd, key, value, 0));
  if (r >= 0) return true;
  const e = koffi.errno();
  if (e === 2) return false; // ENOENT
  throw new SyscallError('bpf(BPF_MAP_LOOKUP_ELEM)', e, errnoName(e));
}

/** BPF_MAP_DELETE_ELEM; false when the key was absent. */
export function mapDelete(fd: number, key: Uint8Array): boolean {
  const r = raw(BPF_CMD.MAP_DELETE_ELEM, elemAttr(fd, key, null, 0));
  if (r >= 0) return true;
  const e = koffi.errno();
  if (e === 2) return false;
  throw new SyscallError('bpf(BPF_MAP_DELETE_ELEM)', e, errnoName(e));
}

/** BPF_MAP_GET_NEXT_KEY: the key after `key` (the first key when `key` is null), or false at the end. */
export function mapNextKey(fd: number, key: Uint8Array | null, next: Uint8Array): boolean {
  const r = raw(BPF_CMD.MAP_GET_NEXT_KEY, elemAttr(fd, key, next, 0));
  if (r >= 0) return true;
  const e = koffi.errno();
  if (e === 2) return false;
  throw new SyscallError('bpf(BPF_MAP_GET_NEXT_KEY)', e, errnoName(e));
}

export interface ProgSpec {
  readonly type: number;
  readonly insns: Uint8Array;
  readonly license: string;
  readonly name: string;
  /** Bytes for the verifier's log; it is only requested again, at level 1, after a refusal. */
  readonly logSize?: number;
}

function progAttr(spec: ProgSpec, license: Uint8Array, log: Uint8Array | null): Uint8Array {
  const { buf, view } = attr(128);
  view.setUint32(0, spec.type, true); // prog_type
  view.setUint32(4, spec.insns.byteLength / 8, true); // insn_cnt
  view.setBigUint64(8, ptr(spec.insns), true); // insns
  view.setBigUint64(16, ptr(license), true); // license
  if (log) {
    view.setUint32(24, 1, true); // log_level
    view.setUint32(28, log.byteLength, true); // log_size
    view.setBigUint64(32, ptr(log), true); // log_buf
  }
  setName(buf, 48, spec.name); // prog_name
  return buf;
}

/**
 * BPF_PROG_LOAD; returns the program's fd. On refusal the load is repeated
 * with the verifier's log enabled, and a VerifierError carries that log
 * (the first attempt runs without a log: logging slows verification).
 */
export function progLoad(spec: ProgSpec): number {
  const license = new TextEncoder().encode(`${spec.license}\0`);
  const fd = raw(BPF_CMD.PROG_LOAD, progAttr(spec, license, null));
  if (fd >= 0) return fd;
  const first = koffi.errno();
  if (first === 1 /* EPERM */) throw new SyscallError('bpf(BPF_PROG_LOAD)', first, errnoName(first), `program ${spec.name}`);
  const log = new Uint8Array(spec.logSize ?? 1 << 20);
  const again = raw(BPF_CMD.PROG_LOAD, progAttr(spec, license, log));
  if (again >= 0) return again; // accepted on the second try (should not happen); keep it
  const e = koffi.errno();
  const end = log.indexOf(0);
  throw new VerifierError(spec.name, e, new TextDecoder().decode(log.subarray(0, end < 0 ? log.byteLength : end)));
}

/** BPF_RAW_TRACEPOINT_OPEN: attaches a raw-tracepoint program; the returned fd is the link (close it to detach). */
export function rawTracepointOpen(name: string, progFd: number): number {
  const cname = new TextEncoder().encode(`${name}\0`);
  const { buf, view } = attr(24);
  view.setBigUint64(0, ptr(cname), true); // raw_tracepoint.name
  view.setUint32(8, progFd, true); // raw_tracepoint.prog_fd
  return bpf(BPF_CMD.RAW_TRACEPOINT_OPEN, buf, `BPF_RAW_TRACEPOINT_OPEN ${name}`);
}

/** BPF_OBJ_GET_INFO_BY_FD into `info` (struct bpf_prog_info / bpf_map_info / bpf_link_info); returns the bytes filled. */
export function objGetInfo(fd: number, info: Uint8Array): number {
  const { buf, view } = attr(16);
  view.setUint32(0, fd, true); // info.bpf_fd
  view.setUint32(4, info.byteLength, true); // info.info_len
  view.setBigUint64(8, ptr(info), true); // info.info
  bpf(BPF_CMD.OBJ_GET_INFO_BY_FD, buf, 'BPF_OBJ_GET_INFO_BY_FD');
  return view.getUint32(4, true);
}

/** The kernel id of a BPF object (program, map or link): the u32 at offset 4 of each info struct. */
export function objId(fd: number): number {
  const info = new Uint8Array(64);
  objGetInfo(fd, info);
  return new DataView(info.buffer).getUint32(4, true);
}

export type BpfObjectKind = 'prog' | 'map' | 'link';

const GET_FD_BY_ID: Record<BpfObjectKind, number> = {
  prog: BPF_CMD.PROG_GET_FD_BY_ID,
  map: BPF_CMD.MAP_GET_FD_BY_ID,
  link: BPF_CMD.LINK_GET_FD_BY_ID,
};
const GET_NEXT_ID: Record<BpfObjectKind, number> = {
  prog: BPF_CMD.PROG_GET_NEXT_ID,
  map: BPF_CMD.MAP_GET_NEXT_ID,
  link: BPF_CMD.LINK_GET_NEXT_ID,
};

/** Whether a program, map or link with this id is still loaded (BPF_*_GET_FD_BY_ID, then closed again). */
export function objExists(kind: BpfObjectKind, id: number, close: (fd: number) => void): boolean {
  const { buf, view } = attr(12);
  view.setUint32(0, id, true);
  const fd = raw(GET_FD_BY_ID[kind], buf);
  if (fd >= 0) {
    close(fd);
    return true;
  }
  const e = koffi.errno();
  if (e === 2) return false; // ENOENT
  throw new SyscallError(`bpf(GET_FD_BY_ID ${kind})`, e, errnoName(e));
}

/** Every id of the loaded programs, maps or links (BPF_*_GET_NEXT_ID). */
export function objIds(kind: BpfObjectKind): number[] {
  const out: number[] = [];
  let start = 0;
  for (;;) {
    const { buf, view } = attr(8);
    view.setUint32(0, start, true);
    const r = raw(GET_NEXT_ID[kind], buf);
    if (r < 0) {
      const e = koffi.errno();
      if (e === 2) return out;
      throw new SyscallError(`bpf(GET_NEXT_ID ${kind})`, e, errnoName(e));
    }
    start = view.getUint32(4, true);
    out.push(start);
  }
}

/** A shared mapping of a BPF map (ring buffer pages). */
export interface Mapping {
  readonly address: bigint;
  readonly length: number;
  /** The mapped memory itself (no copy). */
  readonly bytes: Uint8Array;
}

/** mmap(2) of `length` bytes of `fd` at `offset`, shared; writable when asked. */
export function mmapFd(fd: number, length: number, offset: number, writable: boolean): Mapping {
  const prot = PROT.READ | (writable ? PROT.WRITE : 0);
  const address = BigInt(lib().mmap(null, length, prot, MAP_SHARED, fd, offset));
  if (address === 0xffffffffffffffffn || address === -1n) {
    const e = koffi.errno();
    throw new SyscallError('mmap', e, errnoName(e), `fd ${fd} length ${length} offset ${offset}`);
  }
  return { address, length, bytes: new Uint8Array(koffi.view(address, length) as ArrayBuffer) };
}

export function munmap(m: Mapping): void {
  if (lib().munmap(m.address, m.length) < 0) {
    const e = koffi.errno();
    throw new SyscallError('munmap', e, errnoName(e));
  }
}

/**
 * BPF_ENABLE_STATS(BPF_STATS_RUN_TIME): while the returned fd is open the
 * kernel counts run_cnt and run_time_ns of every program (struct
 * bpf_prog_info); close it to stop. For benchmarks: counting costs a clock
 * read per run.
 */
export function enableRunTimeStats(): number {
  const { buf } = attr(4); // enable_stats.type = BPF_STATS_RUN_TIME (0)
  return bpf(BPF_CMD.ENABLE_STATS, buf, 'BPF_ENABLE_STATS');
}
