import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Logger } from "pino";
import { isValidSegment } from "../contract/topics.js";
import { basicAuthOk, type Login } from "../http/basic-auth.js";
import { SseHub } from "../http/sse-hub.js";
import { CSS, HTML, JS, loadAssets, PAGE_HEADERS, type Asset } from "../http/static-assets.js";
import type { DeviceActivity } from "./device-activity.js";
import type { DeviceRow, FleetView } from "./fleet-view.js";

/** The commands the dashboard's buttons send (a subset of the signed command ops). */
export const DASHBOARD_OPS = ["open", "lockdown", "normal", "sync"] as const;
export type DashboardOp = (typeof DASHBOARD_OPS)[number];

/** What became of a command: each device's answer, and the devices that did not answer in time. */
export interface CommandResult {
  readonly id: string;
  readonly answers: ReadonlyArray<{ readonly device: string; readonly ok: boolean; readonly error?: string }>;
  readonly silent: readonly string[];
}

/** Signs and sends a command with the centre key; absent when the dashboard was started without `--key`. */
export interface CommandSender {
  send(site: string, device: string, op: DashboardOp): Promise<CommandResult>;
}

export interface DashboardSettings {
  readonly port: number;
  readonly bind: string;
  /** Required when `bind` is not a loopback address. */
  readonly login: Login | null;
  /** Only this site, or the whole fleet. */
  readonly site: string | null;
}

/** How often the pages get what changed: often enough to look live, rarely enough for 1,000 devices. */
const PUSH_MS = 500;
/** A command request body larger than this is refused. */
const MAX_BODY_BYTES = 1024;

const ASSETS = [
  { urlPath: "/", file: "fleet/index.html", type: HTML },
  { urlPath: "/fleet.css", file: "fleet/fleet.css", type: CSS },
  { urlPath: "/fleet.js", file: "fleet/fleet.js", type: JS },
] as const;

/** A row as the page gets it: the fleet view's row and the colour state it is drawn in. */
export type DashboardRow = DeviceRow & { readonly key: string; readonly level: "ok" | "degraded" | "silent" | "offline" | "unknown" };

/**
 * Offline red; silent past 3 health periods amber (the fleet view decides both); degraded (the gate refuses
 * people or cannot open: a journal or relay fault) amber with its reason; online green.
 */
export function levelOf(r: DeviceRow): DashboardRow["level"] {
  switch (r.state) {
    case "offline":
      return "offline";
    case "degraded":
      return "degraded";
    case "online":
      return r.silent ? "silent" : "ok";
    case "unknown":
      return r.silent ? "silent" : "unknown";
  }
}

/**
 * `qrgate fleet --web`: the fleet dashboard. Serves the page (src/web/fleet/), pushes the fleet view's rows over
 * Server-Sent Events (only the rows that changed, every PUSH_MS), answers a device's detail, and sends signed
 * commands through `commands` after the admin confirmed them in the page. Beyond loopback every request needs the
 * login; a command must also come from the page itself (same origin, custom header), not from another site.
 */
export class FleetDashboard {
  private server: Server | null = null;
  private readonly hub = new SseHub(8 << 20);
  private assets: ReadonlyMap<string, Asset> = new Map();
  private sent = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;
  private boundPort: number | null = null;

  constructor(
    private readonly settings: DashboardSettings,
    private readonly view: FleetView,
    private readonly activity: DeviceActivity,
    private readonly commands: CommandSender | null,
    private readonly nowMs: () => number,
    private readonly log: Logger,
  ) {}

  get port(): number | null {
    return this.boundPort;
  }

  async start(): Promise<void> {
    this.assets = loadAssets(ASSETS);
    const server = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        this.log.error({ err: (e as Error).message }, "dashboard request failed");
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
        res.end("internal error\n");
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.settings.port, this.settings.bind, () => {
        server.off("error", reject);
        const a = server.address();
        this.boundPort = typeof a === "object" && a !== null ? a.port : this.settings.port;
        resolve();
      });
    });
    this.timer = setInterval(() => this.push(), PUSH_MS);
  }

  stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.hub.closeAll();
    const server = this.server;
    this.server = null;
    if (server === null) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private rows(): DashboardRow[] {
    const site = this.settings.site;
    return this.view
      .rows(this.nowMs())
      .filter((r) => site === null || r.site === site)
      .map((r) => ({ ...r, key: `${r.site}/${r.device}`, level: levelOf(r) }));
  }

  /** Sends the rows that changed since the last push to every open page. */
  private push(): void {
    if (this.hub.size === 0) return;
    const rows = this.rows();
    const changed: DashboardRow[] = [];
    const next = new Map<string, string>();
    for (const r of rows) {
      const json = JSON.stringify(r);
      next.set(r.key, json);
      if (this.sent.get(r.key) !== json) changed.push(r);
    }
    const removed = [...this.sent.keys()].filter((k) => !next.has(k));
    this.sent = next;
    if (changed.length > 0 || removed.length > 0) this.hub.send("rows", { full: false, rows: changed, removed, nowMs: this.nowMs() });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const s = this.settings;
    if (s.login !== null && !basicAuthOk(req, s.login)) {
      res.writeHead(401, { "www-authenticate": 'Basic realm="qrgate fleet", charset="UTF-8"', "content-type": "text/plain; charset=utf-8" });
      res.end("login required\n");
      return;
    }
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (req.method === "POST" && path === "/api/command") return this.command(req, res);
    if (req.method !== "GET" && req.method !== "HEAD") return void json(res, 405, { error: "method not allowed" });
    if (path === "/events") {
      // A new page starts from the same state as the others, so it can take their deltas from now on.
      this.push();
      const rows = this.rows();
      this.hub.add(res, [{ event: "rows", data: { full: true, rows, removed: [], nowMs: this.nowMs(), commands: this.commands !== null, site: s.site } }]);
      return;
    }
    const m = /^\/api\/device\/([a-z0-9-]{1,64})\/([a-z0-9-]{1,64})$/.exec(path);
    if (m !== null) {
      const [site, device] = [m[1] as string, m[2] as string];
      const row = this.rows().find((r) => r.site === site && r.device === device);
      if (row === undefined) return void json(res, 404, { error: "no such device" });
      return void json(res, 200, { row, activity: this.activity.report(site, device, this.nowMs()) });
    }
    const asset = this.assets.get(path);
    if (asset === undefined) return void json(res, 404, { error: "not found" });
    res.writeHead(200, { ...PAGE_HEADERS, "content-type": asset.type, "content-length": asset.body.length });
    res.end(req.method === "HEAD" ? undefined : asset.body);
  }

  private async command(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // A form or script on another site cannot set this header without a CORS preflight, which is never granted.
    const origin = req.headers.origin;
    if (req.headers["x-qrgate-dashboard"] !== "1" || (origin !== undefined && origin !== `http://${req.headers.host ?? ""}`)) {
      return void json(res, 403, { error: "commands come from the dashboard page only" });
    }
    if (this.commands === null) return void json(res, 409, { error: "commands are off: start the dashboard with --key KEYFILE (the centre key)" });
    const body = await readBody(req, MAX_BODY_BYTES);
    if (body === null) return void json(res, 413, { error: `request over ${MAX_BODY_BYTES} bytes` });
    let o: unknown;
    try {
      o = JSON.parse(body);
    } catch {
      return void json(res, 400, { error: "not JSON" });
    }
    const { site, device, op } = (typeof o === "object" && o !== null ? o : {}) as { site?: unknown; device?: unknown; op?: unknown };
    if (typeof site !== "string" || !isValidSegment(site) || typeof device !== "string" || !isValidSegment(device)) {
      return void json(res, 400, { error: "site and device must be [a-z0-9-]{1,64}" });
    }
    if (typeof op !== "string" || !(DASHBOARD_OPS as readonly string[]).includes(op)) return void json(res, 400, { error: `op must be one of ${DASHBOARD_OPS.join(", ")}` });
    if (this.settings.site !== null && site !== this.settings.site) return void json(res, 403, { error: `this dashboard is for site ${this.settings.site}` });
    this.log.info({ site, device, op }, "dashboard: sending a signed command");
    try {
      const r = await this.commands.send(site, device, op as DashboardOp);
      json(res, 200, r);
    } catch (e) {
      json(res, 502, { error: (e as Error).message });
    }
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { ...PAGE_HEADERS, "content-type": "application/json; charset=utf-8" });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage, max: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) {
        resolve(null);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
