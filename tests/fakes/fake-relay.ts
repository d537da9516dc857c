import { pino, type Logger } from "pino";
import { BaseRelay, type RelayTiming } from "../../src/drivers/relay/relay.js";
import type { FakeClock } from "./fake-clock.js";

/**
 * A relay for tests: records every output level it is told to write, enforces the Relay contract through BaseRelay
 * (a pulse before start throws `E_RELAY_NOT_STARTED`), and can be told to fail like broken hardware.
 */
export class FakeRelay extends BaseRelay {
  /** Output levels written, in order (true = high). */
  readonly levels: boolean[] = [];
  private broken: string | null = null;

  constructor(timing: RelayTiming, clock: FakeClock, log: Logger = pino({ level: "silent" })) {
    super(timing, clock, log);
  }

  /** Every later write throws `message`, as a driver whose line vanished or whose bus failed. */
  breakHardware(message = "EIO: i/o error, write"): void {
    this.broken = message;
  }

  repair(): void {
    this.broken = null;
  }

  /** The level on the (pretend) pin now; undefined before the first write. */
  get level(): boolean | undefined {
    return this.levels.at(-1);
  }

  protected writeLevel(high: boolean): void {
    if (this.broken !== null) throw new Error(this.broken);
    this.levels.push(high);
  }
}

/** A relay whose hardware fails from the first write: for the gate's and the services' fault paths. */
export class FaultyRelay extends FakeRelay {
  constructor(timing: RelayTiming, clock: FakeClock, log?: Logger) {
    super(timing, clock, log);
    this.breakHardware("EIO: relay board not answering");
  }
}
