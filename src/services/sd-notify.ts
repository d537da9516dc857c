/**
 * systemd's service notification protocol (sd_notify(3)): `READY=1` once the program does its job,
 * `STOPPING=1` when it begins to stop, `WATCHDOG=1` every half `WATCHDOG_USEC`. Without `NOTIFY_SOCKET` every
 * method is a no-op, so the same binary runs under systemd, in a terminal and in tests.
 *
 * Node has no Unix datagram sockets. We send with `unix-dgram` (a small native addon by a Node core maintainer,
 * the one zigbee2mqtt uses): the datagram then comes from our own PID, so systemd attributes it to the main
 * process and the unit can keep the default `NotifyAccess=main`. Spawning `systemd-notify` instead would fork a
 * process every watchdog period and send from a PID that has often exited by the time systemd looks it up
 * (which is why it needs `NotifyAccess=all` and still races); it is kept only as the fallback when the addon
 * cannot load (not built on this machine) or the socket is in the abstract namespace (`@…`, which the addon
 * cannot address).
 */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import type { Logger } from "pino";

/** What a long-running verb tells its service manager. */
export interface ServiceNotifier {
  /** Start-up is complete. */
  ready(status?: string): void;
  /** An orderly stop has begun. */
  stopping(): void;
  /** A one-line status `systemctl status` shows (e.g. why the gate is degraded). */
  status(text: string): void;
  /** Starts the `WATCHDOG=1` pings if the manager asked for them; they run on the event loop, so a wedged loop stops them. */
  startWatchdog(): void;
  /** Stops the pings and releases the socket. Safe to call more than once. */
  close(): void;
  /** Whether a service manager is listening at all. */
  readonly enabled: boolean;
}

/** The subset of unix-dgram's socket we use (the package ships no types). */
interface UnixDgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, callback?: (err?: Error) => void): void;
  close(): void;
  on(event: "error", fn: (e: Error) => void): void;
}
interface UnixDgramModule {
  createSocket(type: "unix_dgram"): UnixDgramSocket;
}

type Sender = { send(msg: string): void; close(): void };

export class SdNotify implements ServiceNotifier {
  private sender: Sender | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private failed = false;

  /** Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from `env`; does no I/O. */
  constructor(
    private readonly log: Logger,
    private readonly env: NodeJS.ProcessEnv = process.env,
    private readonly pid: number = process.pid,
  ) {}

  get enabled(): boolean {
    const s = this.env.NOTIFY_SOCKET;
    return s !== undefined && s !== "";
  }

  /** Half of `WATCHDOG_USEC` in ms, or null when no watchdog is asked of this process. */
  get watchdogIntervalMs(): number | null {
    const usec = Number(this.env.WATCHDOG_USEC);
    if (!this.enabled || !Number.isSafeInteger(usec) || usec <= 0) return null;
    const pid = this.env.WATCHDOG_PID;
    if (pid !== undefined && pid !== "" && Number(pid) !== this.pid) return null;
    return Math.max(1, Math.floor(usec / 2000));
  }

  ready(status?: string): void {
    this.send(status !== undefined ? `READY=1\nSTATUS=${status}` : "READY=1");
  }

  stopping(): void {
    this.send("STOPPING=1");
  }

  status(text: string): void {
    this.send(`STATUS=${text.replace(/\n/g, " ")}`);
  }

  startWatchdog(): void {
    const every = this.watchdogIntervalMs;
    if (every === null || this.watchdog !== null) return;
    this.send("WATCHDOG=1");
    this.watchdog = setInterval(() => this.send("WATCHDOG=1"), every);
    // The pings must not keep a stopping program alive.
    this.watchdog.unref();
    this.log.info({ everyMs: every }, "systemd watchdog pings started");
  }

  close(): void {
    if (this.watchdog !== null) clearInterval(this.watchdog);
    this.watchdog = null;
    this.sender?.close();
    this.sender = null;
  }

  private send(msg: string): void {
    if (!this.enabled || this.failed) return;
    try {
      this.sender ??= this.openSender(this.env.NOTIFY_SOCKET as string);
      this.sender.send(msg);
    } catch (e) {
      // Notification is a courtesy to the service manager: never a reason to stop the gate.
      this.failed = true;
      this.log.error({ err: (e as Error).message, socket: this.env.NOTIFY_SOCKET }, "sd_notify failed; no more notifications");
    }
  }

  private openSender(path: string): Sender {
    if (!path.startsWith("@")) {
      const dgram = loadUnixDgram();
      if (dgram !== null) {
        const socket = dgram.createSocket("unix_dgram");
        socket.on("error", (e) => this.log.warn({ err: e.message }, "sd_notify send failed"));
        return {
          send: (msg) => {
            const buf = Buffer.from(msg, "utf8");
            socket.send(buf, 0, buf.length, path, (err) => {
              if (err) this.log.warn({ err: err.message }, "sd_notify send failed");
            });
          },
          close: () => socket.close(),
        };
      }
      this.log.warn("unix-dgram is not available; notifying through systemd-notify (the unit needs NotifyAccess=all)");
    }
    return {
      send: (msg) => {
        const child = spawn("systemd-notify", [`--pid=${this.pid}`, ...msg.split("\n")], { stdio: "ignore" });
        child.on("error", (e) => this.log.warn({ err: e.message }, "systemd-notify failed"));
        child.unref();
      },
      close: () => undefined,
    };
  }
}

function loadUnixDgram(): UnixDgramModule | null {
  try {
    return createRequire(import.meta.url)("unix-dgram") as UnixDgramModule;
  } catch {
    return null;
  }
}
