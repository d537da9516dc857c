/** The serial (mock binding and real pty), stdin and sim scanners run the scanner contract. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { pino } from "pino";
import { SerialPortMock } from "serialport";
import { systemClock } from "../../src/drivers/clock.js";
import { SerialScanner, type SerialPortLike } from "../../src/drivers/scanner/serial-scanner.js";
import { SimScanner } from "../../src/drivers/scanner/sim-scanner.js";
import { StdinScanner } from "../../src/drivers/scanner/stdin-scanner.js";
import { FakeClock } from "../fakes/fake-clock.js";
import { openPtyPair, type PtyPair } from "../support/pty.js";
import { scannerContract } from "./scanner-contract.js";

const log = pino({ level: "silent" });
const framing = { suffix: "auto" as const, interByteTimeoutMs: 300, maxCodeBytes: 4096 };
const RETRY_MS = 100;
const tick = () => new Promise<void>((r) => setImmediate(r));

/** The part of @serialport/binding-mock's port binding the rig drives (its types do not resolve under NodeNext). */
interface MockPortBinding {
  emitData(data: Buffer): void;
  pendingRead: ((e: Error) => void) | null;
}

// serialport's own (CommonJS) copy of the mock binding: importing @serialport/binding-mock as ESM would give a second
// instance with its own port table.
const MockBinding = SerialPortMock.binding;
let mockSeq = 0;
scannerContract("serial over @serialport/binding-mock", { unplug: true, utf8: true }, () => {
  const path = `/dev/mock-scanner-${++mockSeq}`;
  MockBinding.createPort(path);
  const clock = new FakeClock();
  let port: SerialPortMock | null = null;
  const scanner = new SerialScanner({ ...framing, path, baudRate: 9600, retryMs: RETRY_MS }, clock, log, ({ path, baudRate }) => {
    port = new SerialPortMock({ path, baudRate, autoOpen: false, lock: true });
    return Promise.resolve(port as unknown as SerialPortLike);
  });
  const binding = () => (port?.isOpen === true ? (port.port as unknown as MockPortBinding) : null);
  return Promise.resolve({
    scanner,
    send: async (text: string) => {
      binding()?.emitData(Buffer.from(text + "\r\n", "utf8"));
      for (let i = 0; i < 5; i++) await tick();
    },
    unplug: async () => {
      for (let i = 0; i < 5; i++) await tick(); // let the stream's first read reach the binding
      const b = binding();
      // The OS reports an unplugged USB serial device as a failed read; the mock's pending read is how to fail it.
      MockBinding.reset();
      b?.pendingRead?.(Object.assign(new Error("device disconnected"), { disconnected: true }));
      for (let i = 0; i < 5; i++) await tick();
    },
    replug: () => MockBinding.createPort(path),
    passRetry: async () => {
      clock.advance(RETRY_MS);
      for (let i = 0; i < 5; i++) await tick();
    },
    settle: async () => {
      for (let i = 0; i < 10; i++) await tick();
    },
    dispose: () => Promise.resolve(),
  });
});

// Unplug is exercised over the mock binding: killing socat does not reliably wake node-serialport's poller on the
// pty's slave side (it often never sees the hang-up), so a pty cannot stand in for a USB device going away.
scannerContract("serial over a socat pty", { unplug: false, utf8: true }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "qrgate-contract-"));
  let pty: PtyPair | null = await openPtyPair(dir);
  const scanner = new SerialScanner({ ...framing, path: join(dir, "scanner-tty"), baudRate: 9600, retryMs: RETRY_MS }, systemClock, log);
  return {
    scanner,
    send: (text: string) => pty?.write(text + "\n"),
    unplug: async () => {
      await pty?.close();
      pty = null;
    },
    replug: async () => {
      pty = await openPtyPair(dir);
    },
    passRetry: () => new Promise<void>((r) => setTimeout(r, RETRY_MS * 2)),
    // A pty delivers within milliseconds; this only bounds a proof that nothing arrived.
    settle: () => new Promise<void>((r) => setTimeout(r, 150)),
    dispose: async () => {
      await pty?.close();
    },
  };
});

scannerContract("stdin", { unplug: false, utf8: true }, () => {
  const input = new PassThrough();
  const scanner = new StdinScanner(framing, new FakeClock(), log, input);
  return Promise.resolve({
    scanner,
    send: async (text: string) => {
      input.write(text + "\n");
      await tick();
    },
    unplug: () => undefined,
    replug: () => undefined,
    passRetry: () => undefined,
    settle: async () => {
      for (let i = 0; i < 5; i++) await tick();
    },
    dispose: () => Promise.resolve(),
  });
});

scannerContract("sim", { unplug: false, utf8: true }, () => {
  const scanner = new SimScanner(new FakeClock());
  return Promise.resolve({
    scanner,
    send: (text: string) => scanner.emit(text),
    unplug: () => undefined,
    replug: () => undefined,
    passRetry: () => undefined,
    settle: () => tick(),
    dispose: () => Promise.resolve(),
  });
});
