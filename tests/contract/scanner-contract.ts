/**
 * The Scanner contract, run against every scanner driver (the way MQTT.js runs one store suite against every
 * store). Usage, in a driver's test file:
 *
 *   scannerContract("hid (POS)", { unplug: true, utf8: true }, async () => ({ scanner, send, unplug, replug, passRetry, settle, dispose }));
 *
 * The factory builds an unstarted scanner and the controls of the pretend device behind it; the suite starts it.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Scanner, ScannerListener, ScannerState } from "../../src/drivers/scanner/scanner.js";
import { waitFor } from "../support/wait.js";

export interface ScannerRig {
  /** Not started yet. */
  readonly scanner: Scanner;
  /** The device sends one code, the way it frames codes (suffix, reports, frames): `text` is the code itself. */
  send(text: string): void | Promise<void>;
  /** The device vanishes (unplugged, child process died). Only called when the capability `unplug` is set. */
  unplug(): void | Promise<void>;
  /** The device is back where the driver looks for it. */
  replug(): void | Promise<void>;
  /** Lets the driver's retry interval pass (advance a fake clock, or nothing when the driver runs on real time). */
  passRetry(): void | Promise<void>;
  /** Resolves once whatever was sent had every chance to arrive: used to prove that nothing did. */
  settle(): Promise<void>;
  dispose(): Promise<void>;
}

export interface ScannerCapabilities {
  /** The device can vanish and come back (serial, HID, camera); stdin and sim cannot. */
  readonly unplug: boolean;
  /** Non-ASCII text arrives byte-exact (not true of a keyboard-emulation scanner). */
  readonly utf8: boolean;
}

export type ScannerRigFactory = () => Promise<ScannerRig>;

const VIETNAMESE = "001099012345||Nguyễn Thị Ánh Tuyết|01011990|Nữ|Số 7, Ngõ 12, Đường Láng, Đống Đa, Hà Nội|15062021";
const ASCII = "001099012345|123456789|NGUYEN VAN AN|01011990|Nam|SO 1 PHO HUE|15062021";

function recorder() {
  const codes: string[] = [];
  const states: Array<[ScannerState, string]> = [];
  const listener: ScannerListener = {
    code: (c) => codes.push(c.bytes.toString("utf8")),
    state: (s, d) => states.push([s, d]),
  };
  return { codes, states, listener };
}

export function scannerContract(name: string, can: ScannerCapabilities, makeRig: ScannerRigFactory): void {
  describe(`scanner contract: ${name}`, () => {
    const rigs: ScannerRig[] = [];
    afterEach(async () => {
      for (const r of rigs.splice(0)) {
        await r.scanner.stop();
        await r.dispose();
      }
    });
    async function rig(): Promise<ScannerRig> {
      const r = await makeRig();
      rigs.push(r);
      return r;
    }

    it("reports connected at start and delivers a code with the suffix removed", async () => {
      const r = await rig();
      const rec = recorder();
      await r.scanner.start(rec.listener);
      expect(rec.states.at(-1)?.[0]).toBe("connected");
      await r.send(ASCII);
      await waitFor(() => rec.codes.length === 1, "one code");
      expect(rec.codes).toEqual([ASCII]);
    });

    it.skipIf(!can.utf8)("delivers Vietnamese text byte-exact", async () => {
      const r = await rig();
      const rec = recorder();
      await r.scanner.start(rec.listener);
      await r.send(VIETNAMESE);
      await waitFor(() => rec.codes.length === 1, "one code");
      expect(rec.codes).toEqual([VIETNAMESE]);
    });

    it("delivers consecutive codes separately and in order", async () => {
      const r = await rig();
      const rec = recorder();
      await r.scanner.start(rec.listener);
      await r.send("FIRST-1");
      await r.send("SECOND-2");
      await waitFor(() => rec.codes.length === 2, "two codes");
      expect(rec.codes).toEqual(["FIRST-1", "SECOND-2"]);
    });

    it("starting twice delivers each code once", async () => {
      const r = await rig();
      const rec = recorder();
      await r.scanner.start(rec.listener);
      await r.scanner.start(rec.listener);
      await r.send("ONCE-1");
      await r.send("ONCE-2");
      await waitFor(() => rec.codes.length >= 2, "two codes");
      await r.settle();
      expect(rec.codes).toEqual(["ONCE-1", "ONCE-2"]);
    });

    it("stops twice, and stops before start, without error", async () => {
      const r = await rig();
      await r.scanner.stop();
      await r.scanner.start(recorder().listener);
      await r.scanner.stop();
      await r.scanner.stop();
    });

    it("delivers no code after stop", async () => {
      const r = await rig();
      const rec = recorder();
      await r.scanner.start(rec.listener);
      await r.send("BEFORE");
      await waitFor(() => rec.codes.length === 1, "the code before stop");
      await r.scanner.stop();
      // The device may refuse outright (a fake enforcing the contract) or send into nothing; either way no code.
      try {
        await r.send("AFTER");
      } catch {
        /* refused: fine */
      }
      await r.passRetry();
      await r.settle();
      expect(rec.codes).toEqual(["BEFORE"]);
    });

    it.skipIf(!can.unplug)("reports a lost device, retries, and delivers again once it is back, without a restart", async () => {
      const r = await rig();
      const rec = recorder();
      await r.scanner.start(rec.listener);
      await r.unplug();
      await waitFor(() => rec.states.at(-1)?.[0] === "lost", "the scanner reported lost");
      expect(rec.states.at(-1)?.[1]).not.toBe("");
      // Still gone after a retry: still lost, never connected.
      await r.passRetry();
      await r.settle();
      expect(rec.states.at(-1)?.[0]).toBe("lost");
      await r.replug();
      await waitFor(
        async () => {
          await r.passRetry();
          return rec.states.at(-1)?.[0] === "connected";
        },
        "the scanner reconnected",
      );
      await r.send("AFTER-REPLUG");
      await waitFor(() => rec.codes.includes("AFTER-REPLUG"), "a code after the device came back");
    });

    it.skipIf(!can.unplug)("stops retrying once stopped", async () => {
      const r = await rig();
      const rec = recorder();
      await r.scanner.start(rec.listener);
      await r.unplug();
      await waitFor(() => rec.states.at(-1)?.[0] === "lost", "the scanner reported lost");
      await r.scanner.stop();
      const seen = rec.states.length;
      await r.replug();
      await r.passRetry();
      await r.passRetry();
      await r.settle();
      expect(rec.states.slice(seen).filter(([s]) => s === "connected")).toEqual([]);
    });
  });
}
