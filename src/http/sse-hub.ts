import type { ServerResponse } from "node:http";

/** How often an idle stream carries a comment, so a dead client is noticed and proxies keep it open. */
const HEARTBEAT_MS = 15_000;

/**
 * The open Server-Sent Events streams of one page server. Every event goes to every client at once; a client
 * that cannot keep up (its socket buffer past `maxBufferedBytes`) is dropped and reconnects by itself
 * (EventSource does), rather than the server holding an unbounded queue for it.
 */
export class SseHub {
  private readonly clients = new Set<ServerResponse>();
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(private readonly maxBufferedBytes = 1 << 20) {}

  get size(): number {
    return this.clients.size;
  }

  /** Takes over a response as an event stream; `first` events are sent to it alone straight away. */
  add(res: ServerResponse, first: ReadonlyArray<{ event: string; data: unknown }>, headers: Readonly<Record<string, string>> = {}): void {
    res.writeHead(200, {
      ...headers,
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive",
    });
    res.socket?.setNoDelay(true);
    res.write("retry: 1000\n\n");
    for (const e of first) res.write(frame(e.event, e.data));
    this.clients.add(res);
    res.on("close", () => this.clients.delete(res));
    this.heartbeat ??= setInterval(() => this.sendRaw(": keep-alive\n\n"), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  send(event: string, data: unknown): void {
    if (this.clients.size === 0) return;
    this.sendRaw(frame(event, data));
  }

  /** Ends every stream (the server is stopping). */
  closeAll(): void {
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    this.heartbeat = null;
    for (const c of this.clients) c.destroy();
    this.clients.clear();
  }

  private sendRaw(text: string): void {
    for (const c of this.clients) {
      if (c.writableLength > this.maxBufferedBytes) {
        c.destroy();
        this.clients.delete(c);
        continue;
      }
      c.write(text);
    }
  }
}

/** One SSE frame. JSON never holds a raw newline, so `data:` is a single line. */
function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
