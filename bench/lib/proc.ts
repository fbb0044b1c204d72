/**
 * What a process costs, read from /proc (proc(5)): CPU ticks of the process
 * and of each thread, time runnable but waiting for a CPU, memory, the whole
 * machine's busy time, and whether an NFLOG group is bound.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** sysconf(_SC_CLK_TCK) on Linux (USER_HZ), the unit of /proc/PID/stat utime/stime. */
export const CLK_TCK = 100;

/** utime + stime of a process or thread, in clock ticks. */
export function cpuTicks(statPath: string): { ticks: number; system: number; comm: string } {
  const s = readFileSync(statPath, 'utf8');
  const close = s.lastIndexOf(')');
  const comm = s.slice(s.indexOf('(') + 1, close);
  const f = s.slice(close + 2).split(' '); // f[0] is field 3 (state)
  return { ticks: Number(f[11]) + Number(f[12]), system: Number(f[12]), comm };
}

export interface ThreadCpu {
  ticks: number;
  comm: string;
  /** Time spent runnable but waiting for a CPU, ns (/proc/PID/task/TID/schedstat, field 2). */
  waitNs: number;
}

export function threadTicks(pid: number): Map<number, ThreadCpu> {
  const out = new Map<number, ThreadCpu>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const waitNs = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1]);
      out.set(Number(tid), { ...cpuTicks(`/proc/${pid}/task/${tid}/stat`), waitNs });
    } catch (err) {
      // A thread that exited between readdir and read is simply gone.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return out;
}

export function memoryKb(pid: number): { rss: number; hwm: number; anon: number; file: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? Number.NaN);
  return { rss: kb('VmRSS'), hwm: kb('VmHWM'), anon: kb('RssAnon'), file: kb('RssFile') };
}

/**
 * True when NFLOG `group` is bound in the network namespace `pid` is in: the
 * first column of /proc/PID/net/netfilter/nfnetlink_log (one line per bound
 * group, net/netfilter/nfnetlink_log.c seq_show). The file exists once the
 * nfnetlink_log module is loaded.
 */
export function nflogGroupBound(pid: number, group: number): boolean {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/net/netfilter/nfnetlink_log`, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  return text.split('\n').some((l) => l.trim() !== '' && Number(l.trim().split(/\s+/)[0]) === group);
}

/** Busy and total jiffies of all CPUs (/proc/stat "cpu" line). */
export function systemCpu(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = f[3]! + f[4]!;
  return { busy: total - idle, total };
}
