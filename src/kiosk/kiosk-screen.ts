import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import type { Clock } from "../drivers/clock.js";
import type { ScanOutcome } from "../gate.js";
import { CSS, HTML, JS, loadAssets, PAGE_HEADERS, type Asset } from "../http/static-assets.js";
import { SseHub } from "../http/sse-hub.js";
import type { Part } from "../services/lifecycle.js";
import { givenName } from "./given-name.js";
import type { KioskResultEvent, KioskStatusEvent } from "./kiosk-events.js";
import { reasonText } from "./reason-texts.js";

/** What the screen shows, read from the running gate. */
export interface KioskSource {
  /** Registers for every scan's outcome (before `start`). */
  onOutcome(fn: (o: ScanOutcome) => void): void;
  /** The device's condition now; cheap (memory and a settings read). */
  status(): KioskStatusEvent;
}

export interface KioskSettings {
  readonly port: number;
  readonly bind: string;
}

/** How often the device condition is compared with what the pages were last told. In-process only: pages never poll. */
const STATUS_CHECK_MS = 250;
/** A port that is taken (an old gate still stopping) is tried again this often; the door works meanwhile. */
const BIND_RETRY_MS = 5_000;

const ASSETS = [
  { urlPath: "/", file: "kiosk/index.html", type: HTML },
  { urlPath: "/kiosk.css", file: "kiosk/kiosk.css", type: CSS },
  { urlPath: "/kiosk.js", file: "kiosk/kiosk.js", type: JS },
] as const;

/**
 * The screen at the door: serves the kiosk page (src/web/kiosk/) and pushes every decision and every change of
 * the device's condition to it over Server-Sent Events. The scan path only enqueues a frame on open sockets: it
 * never waits on a browser. Binds `bind:port` (127.0.0.1 by default: the reader's own Chromium).
 */
export class KioskScreen implements Part {
  readonly name = "kiosk";
  private server: Server | null = null;
  private readonly hub = new SseHub();
  private assets: ReadonlyMap<string, Asset> = new Map();
  private lastStatus = "";
  private seq = 0;
  private statusTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private boundPort: number | null = null;

  constructor(
    private readonly settings: KioskSettings,
    private readonly source: KioskSource,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    source.onOutcome((o) => this.onOutcome(o));
  }

  /** The port actually bound (differs from the setting when it is 0), or null before listening. */
  get port(): number | null {
    return this.boundPort;
  }

  async start(): Promise<void> {
    this.assets = loadAssets(ASSETS);
    this.stopped = false;
    const server = createServer((req, res) => this.handle(req, res));
    this.server = server;
    await this.listen(server);
    this.statusTimer = setInterval(() => this.pushStatusIfChanged(), STATUS_CHECK_MS);
    this.statusTimer.unref();
  }

  stop(): Promise<void> {
    this.stopped = true;
    if (this.statusTimer !== null) clearInterval(this.statusTimer);
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.hub.closeAll();
    const server = this.server;
    this.server = null;
    if (server === null || !server.listening) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private listen(server: Server): Promise<void> {
    const { port, bind } = this.settings;
    return new Promise((resolve) => {
      const onError = (e: NodeJS.ErrnoException): void => {
        // The door must not depend on its screen: say so and try again, never stop the gate for it.
        this.log.error({ bind, port, err: e.code ?? e.message }, "kiosk screen cannot listen; retrying");
        if (!this.stopped) {
          this.retryTimer = setTimeout(() => server.listen(port, bind), BIND_RETRY_MS);
          this.retryTimer.unref();
        }
        resolve();
      };
      server.on("error", onError);
      server.once("listening", () => {
        const addr = server.address();
        this.boundPort = typeof addr === "object" && addr !== null ? addr.port : port;
        this.log.info({ url: `http://${bind.includes(":") ? `[${bind}]` : bind}:${this.boundPort}/` }, "kiosk screen listening");
        resolve();
      });
      server.listen(port, bind);
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" }).end("method not allowed\n");
      return;
    }
    if (path === "/events") {
      this.lastStatus = JSON.stringify(this.source.status());
      this.hub.add(res, [{ event: "status", data: JSON.parse(this.lastStatus) as unknown }]);
      return;
    }
    const asset = this.assets.get(path);
    if (asset === undefined) {
      res.writeHead(404, { ...PAGE_HEADERS, "content-type": "text/plain; charset=utf-8" }).end("not found\n");
      return;
    }
    res.writeHead(200, { ...PAGE_HEADERS, "content-type": asset.type, "content-length": asset.body.length });
    res.end(req.method === "HEAD" ? undefined : asset.body);
  }

  private onOutcome(o: ScanOutcome): void {
    if (this.hub.size === 0) return;
    const text = reasonText(o.decision, o.reason);
    // The entry instant on the epoch scale the browser's Performance API uses (timeOrigin + now), from the
    // gate clock's monotonic stamp: both sides read the same system clock.
    const entryMs = performance.timeOrigin + performance.now() - (this.clock.monoMs() - o.receivedMono);
    const event: KioskResultEvent = {
      seq: ++this.seq,
      decision: o.decision,
      reason: o.reason,
      title: text.title,
      next: text.next,
      // A greeting is for the person let in; a refusal on a public screen names no one.
      name: o.decision === "allow" ? givenName(o.name) : null,
      entryMs,
    };
    this.hub.send("result", event);
  }

  private pushStatusIfChanged(): void {
    if (this.hub.size === 0) return;
    let now: string;
    try {
      now = JSON.stringify(this.source.status());
    } catch (e) {
      this.log.debug({ err: (e as Error).message }, "kiosk: device condition unavailable");
      return;
    }
    if (now === this.lastStatus) return;
    this.lastStatus = now;
    this.hub.send("status", JSON.parse(now) as unknown);
  }
}
