import type { Clock } from "../../src/drivers/clock.js";

/** A clock that moves only when told; timers fire in order as `advance` passes them. */
export class FakeClock implements Clock {
  private mono = 1000;
  private wall: number;
  private seq = 0;
  private timers: Array<{ at: number; seq: number; fn: () => void; live: boolean }> = [];

  constructor(wallMs = Date.UTC(2026, 10, 24, 8, 0, 0)) {
    this.wall = wallMs;
  }

  monoMs(): number {
    return this.mono;
  }

  wallMs(): number {
    return this.wall;
  }

  setTimer(ms: number, fn: () => void): () => void {
    if (!(ms >= 0)) throw new Error(`FakeClock.setTimer: bad delay ${ms}`);
    const t = { at: this.mono + ms, seq: this.seq++, fn, live: true };
    this.timers.push(t);
    return () => {
      t.live = false;
    };
  }

  /** Moves both clocks forward by `ms`, firing due timers in time order. */
  advance(ms: number): void {
    const end = this.mono + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.live && t.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (due === undefined) break;
      this.wall += due.at - this.mono;
      this.mono = due.at;
      due.live = false;
      due.fn();
    }
    this.wall += end - this.mono;
    this.mono = end;
    this.timers = this.timers.filter((t) => t.live);
  }

  /** Steps only the wall clock (NTP correction, a Pi booting at 1970). */
  setWall(ms: number): void {
    this.wall = ms;
  }

  get pendingTimers(): number {
    return this.timers.filter((t) => t.live).length;
  }
}
