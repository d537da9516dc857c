/**
 * A stand-in for systemd's notification socket: a real Unix datagram socket (bound by python3, since Node has
 * none) whose datagrams are collected with their arrival time, for a process started with NOTIFY_SOCKET.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { waitFor } from "./wait.js";

const RECEIVER = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    d = s.recv(65536)
    print(d.decode("utf-8", "replace").replace("\\n", "|"), flush=True)
`;

export interface Notification {
  /** The datagram, lines joined with `|`: `READY=1|STATUS=gate started`. */
  readonly text: string;
  /** performance.now() in the test process when it arrived. */
  readonly at: number;
}

export interface NotifySocket {
  readonly path: string;
  readonly received: Notification[];
  close(): Promise<void>;
}

export async function openNotifySocket(dir: string, name = "notify.sock"): Promise<NotifySocket> {
  const path = join(dir, name);
  const py: ChildProcess = spawn("/usr/bin/python3", ["-c", RECEIVER, path], { stdio: ["ignore", "pipe", "inherit"] });
  const received: Notification[] = [];
  let listening = false;
  let rest = "";
  py.stdout?.on("data", (chunk: Buffer) => {
    const at = performance.now();
    const lines = (rest + chunk.toString("utf8")).split("\n");
    rest = lines.pop() ?? "";
    for (const l of lines) {
      if (l === "listening") listening = true;
      else received.push({ text: l, at });
    }
  });
  let exited = false;
  py.once("exit", () => (exited = true));
  await waitFor(() => listening || exited, "the notification socket to listen", 10_000);
  if (exited) throw new Error("python3 could not bind the notification socket (is /usr/bin/python3 installed?)");
  return {
    path,
    received,
    async close() {
      if (exited) return;
      const gone = new Promise((r) => py.once("exit", r));
      py.kill("SIGTERM");
      await gone;
    },
  };
}
