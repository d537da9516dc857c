/** The GPIO relay on a fake sysfs tree (Pi 4 and Pi 5 Bookworm numbering) and on fake libgpiod 1.x and 2.x tools. */
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { GpiodGpio } from "../../src/drivers/gpio/gpiod-gpio.js";
import { GpioError } from "../../src/drivers/gpio/gpio.js";
import { openGpio } from "../../src/drivers/gpio/open-gpio.js";
import { SysfsGpio } from "../../src/drivers/gpio/sysfs-gpio.js";
import { GpioRelay } from "../../src/drivers/relay/gpio-relay.js";
import { relayContract } from "../contract/relay-contract.js";
import { FakeClock } from "../fakes/fake-clock.js";
import { FakeGpiod } from "../fakes/fake-gpiod.js";
import { FakeSysfsGpio, PI4_BOOKWORM, PI5_BOOKWORM } from "../fakes/fake-sysfs-gpio.js";
import { waitFor } from "../support/wait.js";

const log = pino({ level: "silent" });
const PIN = 17;

for (const [board, chips, base] of [
  ["Pi 4", PI4_BOOKWORM, 512],
  ["Pi 5", PI5_BOOKWORM, 571],
] as const) {
  relayContract(`gpio over sysfs, ${board} (base ${base})`, (timing, clock) => {
    const fs = new FakeSysfsGpio(chips);
    // The line left driven "on" by a previous run: start must still lock the door.
    fs.exportLine(base + PIN, timing.activeLow ? "0" : "1");
    const gpio = new SysfsGpio({ root: fs.root, pollMs: 10, exportTimeoutMs: 1000 }, clock);
    const relay = new GpioRelay(gpio, PIN, timing, clock, log);
    let started = false;
    const origStart = relay.start.bind(relay);
    relay.start = async () => {
      await origStart();
      started = true;
    };
    return Promise.resolve({
      relay,
      // Before start the file holds the previous run's level; the suite only asks for the level once we drive it.
      level: () => (started || fs.read(base + PIN, "direction") !== "in" ? fs.read(base + PIN, "value") === "1" : undefined),
      breakHardware: () => fs.breakLine(base + PIN),
      dispose: async () => {
        await relay.stop();
        fs.dispose();
      },
    });
  });
}

for (const version of ["v1.6.3", "v2.1"] as const) {
  relayContract(`gpio over libgpiod ${version} tools`, (timing, clock) => {
    const fake = new FakeGpiod(version);
    const gpio = new GpiodGpio({ env: fake.env }, clock, log);
    const relay = new GpioRelay(gpio, PIN, timing, clock, log);
    return Promise.resolve({
      relay,
      level: () => fake.level(PIN),
      breakHardware: async () => {
        fake.fail();
        // The holder's death reaches the driver asynchronously; the next command then reports it.
        await waitFor(() => {
          try {
            relay.off();
            return false;
          } catch {
            return true;
          }
        }, "the relay to notice the failed line");
      },
      dispose: async () => {
        await relay.stop();
        fake.dispose();
      },
    });
  });
}

describe("sysfs GPIO numbering and claiming", () => {
  const trees: FakeSysfsGpio[] = [];
  afterEach(() => {
    for (const t of trees.splice(0)) t.dispose();
  });
  function tree(chips = PI4_BOOKWORM) {
    const t = new FakeSysfsGpio(chips);
    trees.push(t);
    return t;
  }

  it("exports header pin N as the header chip's base + N (Bookworm offset), waiting for the kernel to make the files", async () => {
    const fs = tree(PI5_BOOKWORM);
    const clock = new FakeClock();
    const gpio = new SysfsGpio({ root: fs.root, pollMs: 10, exportTimeoutMs: 1000 }, clock);
    const pending = gpio.output(PIN, false);
    expect(fs.exported).toBe(String(571 + PIN));
    fs.exportLine(571 + PIN);
    clock.advance(20);
    const out = await pending;
    expect(fs.read(571 + PIN, "direction")).toBe("low");
    out.write(true);
    expect(fs.read(571 + PIN, "value")).toBe("1");
    expect(gpio.name).toMatch(/gpiochip571 \(pinctrl-rp1, base 571\)/);
  });

  it("clears an active_low left by another program, so levels are what we write", async () => {
    const fs = tree();
    fs.exportLine(512 + PIN);
    const { writeFileSync } = await import("node:fs");
    writeFileSync(`${fs.root}/gpio${512 + PIN}/active_low`, "1");
    await new SysfsGpio({ root: fs.root, pollMs: 10, exportTimeoutMs: 1000 }, new FakeClock()).output(PIN, true);
    expect(fs.read(512 + PIN, "active_low")).toBe("0");
  });

  it("gives up with a plain error when the export never becomes usable", async () => {
    const fs = tree();
    const clock = new FakeClock();
    const pending = new SysfsGpio({ root: fs.root, pollMs: 10, exportTimeoutMs: 100 }, clock).output(PIN, false);
    const outcome = pending.then(
      () => null,
      (e: unknown) => e,
    );
    for (let i = 0; i < 10; i++) {
      clock.advance(20);
      await Promise.resolve();
      await new Promise((r) => setImmediate(r));
    }
    expect(await outcome).toMatchObject({ code: "E_GPIO_IO", message: expect.stringMatching(/exported but not usable after 100 ms/) as unknown });
  });

  it("names the chips it saw when none is the header's, and takes a configured label", async () => {
    const fs = tree([{ name: "gpiochip0", label: "some-expander", base: 0, ngpio: 16 }, { name: "gpiochip16", label: "other", base: 16, ngpio: 8 }]);
    const gpio = new SysfsGpio({ root: fs.root, pollMs: 10, exportTimeoutMs: 100 }, new FakeClock());
    await expect(gpio.output(PIN, false)).rejects.toThrow(/no GPIO chip for the Pi's header .*gpiochip0 'some-expander'.*set gpio.chip/);
    fs.exportLine(16 + 3);
    const out = await new SysfsGpio({ root: fs.root, chip: "other", pollMs: 10, exportTimeoutMs: 100 }, new FakeClock()).output(3, false);
    out.write(true);
    expect(fs.read(19, "value")).toBe("1");
  });

  it("refuses a pin the chip does not have", async () => {
    const fs = tree();
    await expect(new SysfsGpio({ root: fs.root, pollMs: 10, exportTimeoutMs: 100 }, new FakeClock()).output(60, false)).rejects.toThrow(
      /GPIO60 is not a line of pinctrl-bcm2711/,
    );
  });

  it("reads an input by polling on the clock and reports each change", async () => {
    const fs = tree();
    fs.exportLine(512 + 27, "1");
    const clock = new FakeClock();
    const input = await new SysfsGpio({ root: fs.root, pollMs: 10, exportTimeoutMs: 100 }, clock).input(27, "pull-up");
    const seen: boolean[] = [];
    input.onChange((h) => seen.push(h));
    expect(input.level).toBe(true);
    fs.setInput(512 + 27, false);
    clock.advance(10);
    fs.setInput(512 + 27, true);
    clock.advance(10);
    clock.advance(10);
    expect(seen).toEqual([false, true]);
    await input.release();
    fs.setInput(512 + 27, false);
    clock.advance(50);
    expect(seen).toEqual([false, true]);
  });
});

describe("libgpiod tools", () => {
  const fakes: FakeGpiod[] = [];
  afterEach(() => {
    for (const f of fakes.splice(0)) f.dispose();
  });

  it("1.x: holds the line with gpioset --mode=wait on the header chip found by gpiodetect, a new holder per level", async () => {
    const fake = new FakeGpiod("v1.6.3", "gpiochip0 [pinctrl-rp1] (54 lines)\n");
    fakes.push(fake);
    const clock = new FakeClock();
    const out = await new GpiodGpio({ env: fake.env }, clock, log).output(PIN, true);
    out.write(false);
    await waitFor(() => fake.level(PIN) === false, "the line driven low");
    const sets = fake.calls().filter((c) => c.startsWith("gpioset "));
    expect(sets.map((c) => c.replace(/ pid=\d+$/, ""))).toEqual(["gpioset --mode=wait gpiochip0 17=1", "gpioset --mode=wait gpiochip0 17=0"]);
    await out.release();
  });

  it("1.x: a holder that dies is a fault on the next command, asked for again every second, and clears once it holds", async () => {
    const fake = new FakeGpiod("v1.6.3");
    fakes.push(fake);
    const clock = new FakeClock();
    const relay = new GpioRelay(new GpiodGpio({ env: fake.env }, clock, log), PIN, { pulseMs: 3000, maxPulseMs: 8000, activeLow: false }, clock, log);
    await relay.start();
    await waitFor(() => fake.level(PIN) === false, "locked");
    fake.fail();
    await waitFor(() => {
      try {
        relay.pulse();
        relay.off();
        return false;
      } catch (e) {
        return (e as { code?: string }).code === "E_RELAY_FAULT";
      }
    }, "the fault reported");
    expect(relay.isOn).toBe(false);
    expect(relay.fault).toMatch(/Device or resource busy/);
    fake.repair();
    const before = fake.calls().length;
    clock.advance(1000);
    await waitFor(() => fake.calls().length > before, "asked for the line again");
    // Asked for at the locked level: the refused pulse left nothing behind to be driven later.
    expect(fake.calls().at(-1)).toMatch(/ 17=0 pid=/);
    clock.advance(300);
    relay.pulse();
    await waitFor(() => fake.level(PIN) === true, "released after the repair");
    expect(relay.fault).toBeNull();
    await relay.stop();
    await waitFor(() => fake.level(PIN) === false, "locked at stop");
  });

  it("2.x: one interactive gpioset per line, told each level on its stdin", async () => {
    const fake = new FakeGpiod("v2.1");
    fakes.push(fake);
    const out = await new GpiodGpio({ env: fake.env }, new FakeClock(), log).output(PIN, false);
    out.write(true);
    await waitFor(() => fake.level(PIN) === true, "the line driven high");
    const calls = fake.calls().map((c) => c.replace(/ pid=\d+$/, ""));
    expect(calls).toEqual(["gpioset --interactive -c gpiochip0 17=0", "set 17=1"]);
    await out.release();
  });

  it("watches an input with gpiomon and reads its first level with gpioget (1.x and 2.x edge codes)", async () => {
    for (const version of ["v1.6.3", "v2.1"] as const) {
      const fake = new FakeGpiod(version);
      fakes.push(fake);
      fake.setInput(27, true);
      const input = await new GpiodGpio({ env: fake.env }, new FakeClock(), log).input(27, "pull-up");
      expect(input.level).toBe(true);
      const seen: boolean[] = [];
      input.onChange((h) => seen.push(h));
      await waitFor(() => fake.calls().some((c) => c.startsWith("gpiomon")), "gpiomon started");
      fake.edge(27, false, version);
      fake.edge(27, true, version);
      await waitFor(() => seen.length === 2, "two edges");
      expect(seen).toEqual([false, true]);
      const mon = fake.calls().find((c) => c.startsWith("gpiomon"))!.replace(/ pid=\d+$/, "");
      expect(mon).toBe(version === "v1.6.3" ? "gpiomon --line-buffered --format=%e --bias=pull-up gpiochip0 27" : "gpiomon -c gpiochip0 --format=%e --bias pull-up 27");
      await input.release();
    }
  });

  it("auto picks sysfs where the kernel has it, libgpiod otherwise, and says what to install when neither exists", () => {
    const fs = new FakeSysfsGpio();
    const fake = new FakeGpiod();
    fakes.push(fake);
    const s = { backend: "auto" as const, pollMs: 10 };
    expect(openGpio(s, new FakeClock(), log, { sysfsRoot: fs.root, env: fake.env })).toBeInstanceOf(SysfsGpio);
    expect(openGpio(s, new FakeClock(), log, { sysfsRoot: "/nonexistent", env: fake.env })).toBeInstanceOf(GpiodGpio);
    let err: unknown;
    try {
      openGpio(s, new FakeClock(), log, { sysfsRoot: "/nonexistent", env: { PATH: "/nonexistent" } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GpioError);
    expect((err as GpioError).message).toMatch(/apt install gpiod/);
    fs.dispose();
  });
});
