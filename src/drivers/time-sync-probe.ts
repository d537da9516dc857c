import { execFile } from "node:child_process";
import { access } from "node:fs/promises";

/** Whether the operating system says its wall clock is synchronised to a time source. */
export interface TimeSyncProbe {
  /**
   * Resolves true only when a time daemon positively reports synchronisation; false when it says otherwise, when
   * none answers, or on any error. Never rejects; bounded in time (a few seconds at most).
   */
  isSynchronized(): Promise<boolean>;
}

/** Where each daemon says so; each source is tried in order until one says yes. */
export interface SystemTimeSyncOptions {
  /** systemd-timesyncd touches this file once it has synchronised the clock. */
  readonly timesyncdFile: string;
  /** Commands that print something matching `yes` when synchronised (chrony's tracking, the kernel's flag via timedatectl). */
  readonly commands: ReadonlyArray<{ readonly file: string; readonly args: readonly string[]; readonly yes: RegExp }>;
  readonly commandTimeoutMs: number;
}

export const SYSTEM_TIME_SYNC: SystemTimeSyncOptions = {
  timesyncdFile: "/run/systemd/timesync/synchronized",
  commands: [
    // The kernel's own "synchronised" flag (adjtimex), which chronyd and ntpd set as well as timesyncd.
    { file: "timedatectl", args: ["show", "-p", "NTPSynchronized", "--value"], yes: /^yes\s*$/ },
    { file: "chronyc", args: ["-n", "tracking"], yes: /^Leap status\s*:\s*Normal\s*$/m },
    // ntpstat exits 0 only when synchronised, printing "synchronised to …".
    { file: "ntpstat", args: [], yes: /^synchroni[sz]ed to /m },
  ],
  commandTimeoutMs: 2000,
};

/** Asks systemd-timesyncd, then the kernel through timedatectl, then chrony, then ntpd. */
export class SystemTimeSyncProbe implements TimeSyncProbe {
  constructor(private readonly opts: SystemTimeSyncOptions = SYSTEM_TIME_SYNC) {}

  async isSynchronized(): Promise<boolean> {
    try {
      await access(this.opts.timesyncdFile);
      return true;
    } catch {
      // Not timesyncd, or not synchronised yet: ask the others.
    }
    for (const c of this.opts.commands) {
      if (await this.says(c.file, c.args, c.yes)) return true;
    }
    return false;
  }

  private says(file: string, args: readonly string[], yes: RegExp): Promise<boolean> {
    return new Promise((resolve) => {
      execFile(file, [...args], { timeout: this.opts.commandTimeoutMs, encoding: "utf8" }, (error, stdout) => {
        resolve(error === null && yes.test(stdout));
      });
    });
  }
}
