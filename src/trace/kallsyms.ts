/**
 * Kernel addresses to function names through /proc/kallsyms (readable with
 * addresses by root; kptr_restrict hides them from others, and then every
 * address prints as hex). The parser is pure; loading reads the file.
 */
import { readFileSync } from 'node:fs';

export class KernelSymbols {
  private readonly addrs: BigUint64Array;
  private readonly names: readonly string[];

  constructor(entries: readonly { addr: bigint; name: string }[]) {
    const sorted = [...entries].sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0));
    this.addrs = BigUint64Array.from(sorted.map((e) => e.addr));
    this.names = sorted.map((e) => e.name);
  }

  get size(): number {
    return this.names.length;
  }

  /** `function+0xoffset`, or the address in hex when no symbol precedes it. */
  symbolize(addr: bigint): string {
    let lo = 0;
    let hi = this.addrs.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.addrs[mid]! <= addr) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (best < 0) return `0x${addr.toString(16)}`;
    const off = addr - this.addrs[best]!;
    return off === 0n ? this.names[best]! : `${this.names[best]}+0x${off.toString(16)}`;
  }
}

/**
 * Parses /proc/kallsyms text ("ffffffff81000000 T _text [module]"). Only
 * text symbols (t/T) are kept: drop locations are return addresses in code.
 * All-zero addresses (kptr_restrict) are skipped.
 */
export function parseKallsyms(text: string): KernelSymbols {
  const out: { addr: bigint; name: string }[] = [];
  for (const line of text.split('\n')) {
    const sp1 = line.indexOf(' ');
    if (sp1 !== 16) continue;
    const type = line[sp1 + 1];
    if (type !== 't' && type !== 'T') continue;
    const rest = line.slice(sp1 + 3);
    const tab = rest.indexOf('\t');
    const name = tab < 0 ? rest : rest.slice(0, tab);
    const addr = BigInt(`0x${line.slice(0, 16)}`);
    if (addr !== 0n && name) out.push({ addr, name });
  }
  return new KernelSymbols(out);
}

export function loadKallsyms(path = '/proc/kallsyms'): KernelSymbols {
  return parseKallsyms(readFileSync(path, 'utf8'));
}
