/** The last `capacity` samples of one duration, for p50/p99 in health reports and the bench. */
export class LatencyStats {
  private readonly samples: Float64Array;
  private next = 0;
  private count = 0;

  constructor(capacity = 1024) {
    this.samples = new Float64Array(capacity);
  }

  add(ms: number): void {
    this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.samples.length;
    if (this.count < this.samples.length) this.count++;
  }

  get size(): number {
    return this.count;
  }

  /** The p-th percentile (0-100, nearest rank) of the kept samples; null when there are none. */
  percentile(p: number): number | null {
    if (this.count === 0) return null;
    const sorted = Array.from(this.samples.subarray(0, this.count)).sort((a, b) => a - b);
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[rank] as number;
  }
}
