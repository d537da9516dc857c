/**
 * The fleet simulator's traffic model (`qrgate sim`), pure: no I/O, no clock, a seeded random source.
 *
 * - A morning peak: the run is a compressed morning, the rate rising from a base to `peak` x the mean at 40 % of
 *   the run and falling back (a Gaussian bump over a floor), scaled so the mean over the run is exactly the rate
 *   asked for. `peak` 1 is a flat rate.
 * - Arrivals: a Poisson draw per tick of the expected count, so doors see bursts and lulls as real ones do.
 * - People: each site (a building of `doorsPerSite` doors) has its own people, and a few travellers pass any site.
 *   A share of scans are repeat passers: someone who went through a door of the site a moment ago goes through
 *   another one (lobby, then a floor door), so the same people are at several doors, as contact tracing needs.
 */

/** A seeded 32-bit generator (mulberry32): the same seed gives the same run. Returns [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Where the bump peaks, as a fraction of the run, and its width (standard deviation, fraction of the run). */
const PEAK_AT = 0.4;
const PEAK_WIDTH = 0.15;

/** The mean of the bump exp(-((x - PEAK_AT) / PEAK_WIDTH)^2 / 2) over [0, 1], by a fine midpoint sum. */
const BUMP_MEAN = (() => {
  const n = 10_000;
  let s = 0;
  for (let i = 0; i < n; i++) s += bump((i + 0.5) / n);
  return s / n;
})();

function bump(x: number): number {
  const z = (x - PEAK_AT) / PEAK_WIDTH;
  return Math.exp(-(z * z) / 2);
}

/** The highest peak-to-mean ratio the curve can have (its floor is then 0). */
export const MAX_PEAK = 1 / BUMP_MEAN;

/**
 * The rate at `fraction` (0..1) of the run, as a multiple of the mean rate: floor + height x bump, with
 * floor + height = `peak` (the maximum) and a mean of 1 over the run. Outside [0, 1] the ends are held.
 */
export function rateFactor(fraction: number, peak: number): number {
  if (peak <= 1) return 1;
  const p = Math.min(peak, MAX_PEAK);
  const height = (p - 1) / (1 - BUMP_MEAN);
  const floor = p - height;
  return floor + height * bump(Math.min(1, Math.max(0, fraction)));
}

/** A Poisson draw of mean `lambda`: exact (Knuth) for small means, a rounded normal for large ones. */
export function poisson(lambda: number, random: () => number): number {
  if (lambda <= 0) return 0;
  if (lambda > 30) {
    // Box-Muller; at this size the normal approximation is within what a traffic model needs.
    const u = Math.max(random(), Number.MIN_VALUE);
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
    return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * z));
  }
  const limit = Math.exp(-lambda);
  let k = 0;
  let p = random();
  while (p > limit) {
    k++;
    p *= random();
  }
  return k;
}

/** Shares of the traffic; each is a fraction of scans (or of people, for the status mix). */
export interface TrafficMix {
  /** Scans made with a signed phone pass (the rest: chip cards). */
  readonly passShare: number;
  /** Scans by someone who passed a door of the same site a moment ago. */
  readonly repeatShare: number;
  /** Scans by a traveller, known at every site. */
  readonly travellerShare: number;
  /** Scans of a card no status table holds (denied unknown_subject). */
  readonly unknownShare: number;
}

export const DEFAULT_MIX: TrafficMix = { passShare: 0.3, repeatShare: 0.5, travellerShare: 0.02, unknownShare: 0.005 };

/** Travellers known at every site. */
export const TRAVELLERS = 500;
/** Recent passers remembered per site, from whom repeat passers are drawn. */
const RECENT = 64;

/**
 * A citizen ID for person `n` of site `site` (`site` -1: a traveller; -2: someone no table holds). Twelve digits as
 * a CCCD number: a province-like prefix and the person's number, distinct for every (site, n).
 */
export function personId(site: number, n: number): string {
  const group = site === -1 ? 8_000_000 : site === -2 ? 8_500_000 : site;
  return String(100_000_000_000 + group * 100_000 + n);
}

/** What one scan is: whose ID and how it is shown. */
export interface ScanPick {
  readonly id: string;
  readonly pass: boolean;
}

/** The people of the sites one process simulates, and who shows up next at a door. */
export class Passers {
  private readonly recent = new Map<number, string[]>();

  constructor(
    private readonly peoplePerSite: number,
    private readonly mix: TrafficMix,
    private readonly random: () => number,
  ) {}

  /** The next person at a door of `site`; never `avoid` (the door's previous person: a card held twice is one scan). */
  next(site: number, avoid: string | null): ScanPick {
    for (let tries = 0; ; tries++) {
      const id = this.pickId(site);
      if (id !== avoid || tries >= 3) {
        this.remember(site, id);
        return { id, pass: this.random() < this.mix.passShare };
      }
    }
  }

  private pickId(site: number): string {
    const r = this.random();
    const m = this.mix;
    if (r < m.unknownShare) return personId(-2, Math.floor(this.random() * 100_000));
    if (r < m.unknownShare + m.travellerShare) return personId(-1, Math.floor(this.random() * TRAVELLERS));
    const recent = this.recent.get(site);
    if (recent !== undefined && recent.length > 0 && this.random() < m.repeatShare) {
      return recent[Math.floor(this.random() * recent.length)] as string;
    }
    return personId(site, Math.floor(this.random() * this.peoplePerSite));
  }

  private remember(site: number, id: string): void {
    let list = this.recent.get(site);
    if (list === undefined) {
      list = [];
      this.recent.set(site, list);
    }
    if (list.length < RECENT) list.push(id);
    else list[Math.floor(this.random() * RECENT)] = id;
  }
}
