import type { Logger } from "pino";
import type { Clock } from "../clock.js";
import { BaseRelay, type RelayTiming } from "./relay.js";

/** A relay with no hardware behind it: the transitions go to the log (with their monotonic time). */
export class SimRelay extends BaseRelay {
  /** Output levels written, for inspection; bounded so a long-running simulator does not grow. */
  readonly levels: boolean[] = [];

  constructor(timing: RelayTiming, clock: Clock, log: Logger) {
    super(timing, clock, log);
  }

  protected writeLevel(high: boolean): void {
    if (this.levels.length >= 1000) this.levels.shift();
    this.levels.push(high);
  }
}
