import type { Logger } from "pino";

/**
 * One piece of a running program (the zigbee2mqtt extension pattern): its constructor only assigns, `start` does
 * the I/O, `stop` undoes it. `stop` is called only for a part whose `start` resolved, exactly once.
 */
export interface Part {
  /** For logs and for placing other parts before or after it: `store`, `uplink`, `scanner`, … */
  readonly name: string;
  start(): Promise<void> | void;
  /** Must not throw for the lifecycle's sake (a throw is logged and the next part still stops) and should be quick. */
  stop(): Promise<void> | void;
}

export interface PartPosition {
  readonly before?: string;
  readonly after?: string;
}

/**
 * Starts parts in order and stops them in reverse. A part that fails to start stops the parts already started
 * (in reverse) and the error goes to the caller. Stopping is bounded: each part gets what is left of
 * `stopBudgetMs`, and a part that overruns is logged and left behind so the ones before it still stop.
 */
export class Lifecycle {
  private readonly parts: Part[] = [];
  private readonly started: Part[] = [];
  private state: "idle" | "starting" | "running" | "stopping" | "stopped" = "idle";
  private stopping: Promise<void> | null = null;
  private startRun: Promise<void> | null = null;

  constructor(
    private readonly log: Logger,
    private readonly stopBudgetMs = 1500,
    /** A part's start that takes longer fails the start (a gate must never sit there without "started"). */
    private readonly startTimeoutMs = 30_000,
  ) {}

  /** Adds a part at the end, or before/after a named one. Only before `start`. */
  add(part: Part, at: PartPosition = {}): void {
    if (this.state !== "idle") throw new Error(`lifecycle: cannot add part '${part.name}' once started`);
    if (this.parts.some((p) => p.name === part.name)) throw new Error(`lifecycle: duplicate part '${part.name}'`);
    const anchor = at.before ?? at.after;
    if (anchor === undefined) {
      this.parts.push(part);
      return;
    }
    const i = this.parts.findIndex((p) => p.name === anchor);
    if (i < 0) throw new Error(`lifecycle: no part '${anchor}' to place '${part.name}' next to`);
    this.parts.splice(at.before !== undefined ? i : i + 1, 0, part);
  }

  /** Part names in start order. */
  get order(): readonly string[] {
    return this.parts.map((p) => p.name);
  }

  /** Names of the parts started and not yet stopped, in start order. */
  get running(): readonly string[] {
    return this.started.map((p) => p.name);
  }

  start(): Promise<void> {
    if (this.state !== "idle") return Promise.reject(new Error(`lifecycle: start called while ${this.state}`));
    this.state = "starting";
    this.startRun = this.runStart();
    return this.startRun;
  }

  private async runStart(): Promise<void> {
    for (const part of this.parts) {
      if (this.state !== "starting") return; // a stop came in while starting: start nothing more
      this.log.debug({ part: part.name }, "starting part");
      try {
        const done = await withDeadline(Promise.resolve().then(() => part.start()), this.startTimeoutMs);
        if (!done) throw new StartTimeoutError(part.name, this.startTimeoutMs);
      } catch (e) {
        this.log.debug({ part: part.name, err: (e as Error).message }, "part failed to start; stopping the others");
        this.state = "stopping";
        await this.stopStarted();
        this.state = "stopped";
        throw e;
      }
      this.started.push(part);
      // (Re-read: a concurrent stop() may have changed the state during the await.)
      if ((this.state as string) === "stopped") {
        // A stop gave up waiting for this start and has finished: this part must not outlive it.
        await Promise.resolve().then(() => part.stop()).catch(() => undefined);
        this.started.pop();
        return;
      }
    }
    if (this.state === "starting") this.state = "running";
  }

  /** Stops every started part in reverse order; safe to call more than once and during `start`. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const wasStarting = this.state === "starting";
      this.state = "stopping";
      if (wasStarting && this.startRun !== null) {
        // The part being started finishes (bounded by the budget) so it can be stopped too.
        await withDeadline(this.startRun.catch(() => undefined), this.stopBudgetMs / 2);
      }
      await this.stopStarted();
      this.state = "stopped";
    })();
    return this.stopping;
  }

  private async stopStarted(): Promise<void> {
    const deadline = performance.now() + this.stopBudgetMs;
    while (this.started.length > 0) {
      const part = this.started.pop() as Part;
      const left = Math.max(50, deadline - performance.now());
      try {
        const done = await withDeadline(Promise.resolve().then(() => part.stop()), left);
        if (!done) this.log.warn({ part: part.name, ms: Math.round(left) }, "part did not stop in time; going on");
      } catch (e) {
        this.log.error({ part: part.name, err: (e as Error).message }, "part failed to stop");
      }
    }
  }
}

/** A part whose start neither finished nor failed in time. */
export class StartTimeoutError extends Error {
  readonly code = "E_START_TIMEOUT";
  constructor(
    readonly part: string,
    readonly ms: number,
  ) {
    super(`${part} did not start within ${ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`}`);
    this.name = "StartTimeoutError";
  }
}

/** Resolves true when `p` settles in time, false after `ms`; a rejection of `p` is passed on. */
function withDeadline(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => resolve(false), ms);
    p.then(
      () => {
        clearTimeout(t);
        resolve(true);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
