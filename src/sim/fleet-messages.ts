/** What the fleet simulator's parent and its worker processes say to each other over the IPC channel. */
import type { TrafficMix } from "./traffic.js";

/** One worker's share of the fleet and how to run it. */
export interface WorkerSpec {
  readonly worker: number;
  readonly url: string;
  readonly root: string;
  readonly dir: string;
  /** Sites this worker runs, each with doors `0 .. doorsPerSite[i] - 1`. */
  readonly sites: ReadonlyArray<{ readonly site: number; readonly doors: number }>;
  /** Mean scans per second per door over the run. */
  readonly ratePerDoor: number;
  readonly peak: number;
  readonly durationMs: number;
  readonly peoplePerSite: number;
  readonly mix: TrafficMix;
  readonly seed: number;
  readonly jwksPath: string;
  readonly passKeyPath: string;
  readonly keepaliveS: number;
  readonly healthPeriodS: number;
  readonly synchronous: "FULL" | "NORMAL";
  readonly logLevel: string;
  /** Every `sampleEvery`-th entry is reported (id and time) for lag measurement; 0: none. */
  readonly sampleEvery: number;
  /** How long to wait for the outboxes to drain at the end. */
  readonly drainMs: number;
}

export interface Sample {
  readonly id: string;
  readonly tsMs: number;
}

/** What a worker reports every progress period; the runner sums them over its workers. */
export interface ProgressCounts {
  readonly scans: number;
  readonly entries: number;
  readonly connected: number;
  readonly outboxRows: number;
  readonly reconnects: number;
  /** Scans due and not made yet: more traffic than the simulator has CPU for. */
  readonly behind: number;
}

export type ToWorker = { readonly type: "spec"; readonly spec: WorkerSpec } | { readonly type: "go"; readonly startWallMs: number } | { readonly type: "stop" };

export type FromWorker =
  | { readonly type: "ready"; readonly gates: number; readonly rssBeforeBytes: number; readonly rssAfterBytes: number; readonly startMs: number }
  | ({ readonly type: "progress" } & ProgressCounts)
  /** Sent every tick that has some, so the lag measured from them is not a progress period late. */
  | { readonly type: "samples"; readonly samples: readonly Sample[] }
  | {
      readonly type: "done";
      readonly scans: number;
      /** Entries in the gates' journals, by `site/device`. */
      readonly journal: Readonly<Record<string, number>>;
      readonly outboxRows: number;
      readonly drained: boolean;
      readonly reasons: Readonly<Record<string, number>>;
      /** Connections made again after the first, over all the worker's gates. */
      readonly reconnects: number;
      /** The worker's event loop delay during the traffic, ms: when it is high, the simulator is the bottleneck. */
      readonly loopDelayP99Ms: number;
      readonly loopDelayMaxMs: number;
      /** The most scans that were due and not yet made, at any moment. */
      readonly behindMax: number;
      /** How long after the end of the run the last scan due in it was made, ms (0: on time). */
      readonly lateMs: number;
    }
  | { readonly type: "error"; readonly message: string };
