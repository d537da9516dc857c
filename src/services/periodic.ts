import type { Logger } from "pino";
import type { CancelTimer, Clock } from "../drivers/clock.js";

/**
 * Repeating tasks on an injected clock. Each task holds exactly one pending timer, replaced on every firing, so
 * a gate that runs for years keeps a constant number of handles (one per task), whatever the number of firings.
 */
export class Periodic {
  private readonly tasks = new Set<{ cancel: CancelTimer; live: boolean }>();

  constructor(
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** Runs `fn` every `ms` (monotonic) until the returned function or `cancelAll` is called. A throw is logged, never fatal. */
  every(ms: number, fn: () => void, name = "periodic task"): CancelTimer {
    const task = { cancel: (() => undefined) as CancelTimer, live: true };
    const run = (): void => {
      if (!task.live) return;
      try {
        fn();
      } catch (e) {
        this.log.error({ task: name, err: (e as Error).message }, "periodic task failed");
      }
      if (task.live) task.cancel = this.clock.setTimer(ms, run);
    };
    task.cancel = this.clock.setTimer(ms, run);
    this.tasks.add(task);
    return () => {
      task.live = false;
      task.cancel();
      this.tasks.delete(task);
    };
  }

  /** Stops every task; safe to call more than once. */
  cancelAll(): void {
    for (const t of this.tasks) {
      t.live = false;
      t.cancel();
    }
    this.tasks.clear();
  }

  /** Pending timers held: one per live task. */
  get size(): number {
    return this.tasks.size;
  }
}
