/**
 * Figures for the benchmarks' reports: medians, percentiles, histogram
 * quantiles, and the number formats and table padding they print with.
 */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Nearest-rank percentile. */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '-';
}

export function pct(part: number, whole: number): string {
  return whole > 0 && Number.isFinite(part) ? `${((100 * part) / whole).toFixed(2)}%` : '-';
}

export function pad(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
}

/** Histogram quantile over bucket deltas, linear within the bucket (Prometheus' histogram_quantile). */
export function histogramQuantile(bounds: readonly number[], cumulative: readonly number[], q: number): { value: number; bound: number } {
  const total = cumulative[cumulative.length - 1] ?? 0;
  if (total === 0) return { value: Number.NaN, bound: Number.NaN };
  const rank = q * total;
  for (let i = 0; i < cumulative.length; i++) {
    if (cumulative[i]! >= rank) {
      const lo = i === 0 ? 0 : bounds[i - 1]!;
      const hi = bounds[i]!;
      const below = i === 0 ? 0 : cumulative[i - 1]!;
      const inBucket = cumulative[i]! - below;
      return { value: Number.isFinite(hi) ? lo + ((hi - lo) * (rank - below)) / inBucket : lo, bound: hi };
    }
  }
  return { value: Number.NaN, bound: Number.NaN };
}
