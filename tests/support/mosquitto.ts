/**
 * A real Mosquitto broker for one test file, on a free port, that the test can stop and restart
 * (same port, same persistence file) to play a broker outage.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { createServer, createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ port, host: "127.0.0.1" });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

export interface TestBroker {
  readonly port: number;
  readonly url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stops the broker and removes its files. */
  dispose(): Promise<void>;
}

export interface BrokerOptions {
  /** Keep sessions and queued messages on disk across stop/start (default true). */
  persistence?: boolean;
  /** Extra lines for mosquitto.conf. */
  extra?: string[];
}

export async function startBroker(opts: BrokerOptions = {}): Promise<TestBroker> {
  const dir = mkdtempSync(join(tmpdir(), "qrgate-mosq-"));
  const port = await freePort();
  const conf = join(dir, "mosquitto.conf");
  const lines = [
    `listener ${port} 127.0.0.1`,
    "allow_anonymous true",
    `persistence ${opts.persistence === false ? "false" : "true"}`,
    `persistence_location ${dir}/`,
    "max_queued_messages 0",
    "log_dest none",
    ...(process.getuid?.() === 0 ? ["user root"] : []),
    ...(opts.extra ?? []),
  ];
  writeFileSync(conf, lines.join("\n") + "\n");
  let child: ChildProcess | null = null;

  const broker: TestBroker = {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    async start() {
      if (child !== null) return;
      const c = spawn("mosquitto", ["-c", conf], { stdio: "ignore" });
      child = c;
      let exited = false;
      c.once("exit", () => {
        exited = true;
        if (child === c) child = null;
      });
      // Poll for readiness: the broker prints nothing we can wait on with log_dest none.
      for (let i = 0; i < 200; i++) {
        if (exited) throw new Error(`mosquitto exited at start (conf ${conf})`);
        if (await canConnect(port)) return;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`mosquitto did not listen on ${port}`);
    },
    async stop() {
      const c = child;
      if (c === null) return;
      await new Promise<void>((resolve) => {
        c.once("exit", () => resolve());
        c.kill("SIGTERM");
      });
      child = null;
    },
    async dispose() {
      await broker.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await broker.start();
  return broker;
}
