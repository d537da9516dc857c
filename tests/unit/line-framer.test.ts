import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LineFramer, type Suffix } from "../../src/drivers/scanner/line-framer.js";
import { FakeClock } from "../fakes/fake-clock.js";

function framer(suffix: Suffix, over: { maxCodeBytes?: number } = {}) {
  const clock = new FakeClock();
  const codes: Array<{ text: string; total: number }> = [];
  const dropped: number[] = [];
  const f = new LineFramer(
    { suffix, interByteTimeoutMs: 300, maxCodeBytes: over.maxCodeBytes ?? 4096 },
    clock,
    { code: (c) => codes.push({ text: c.bytes.toString("utf8"), total: c.totalBytes }), dropped: (n) => dropped.push(n) },
  );
  return { f, clock, codes, dropped, texts: () => codes.map((c) => c.text) };
}

describe("LineFramer", () => {
  it.each<[Suffix, string, string[]]>([
    ["auto", "a\rb\nc\r\nd\n\n", ["a", "b", "c", "d"]],
    ["CR", "a\rb\nc\r", ["a", "b\nc"]],
    ["LF", "a\nb\r\n", ["a", "b\r"]],
    ["CRLF", "a\r\nb\rc\r\n", ["a", "b\rc"]],
  ])("with suffix %s splits %j into %j", (suffix, input, expected) => {
    const t = framer(suffix);
    t.f.push(Buffer.from(input));
    expect(t.texts()).toEqual(expected);
  });

  it("keeps a UTF-8 name whole when its bytes arrive split across reads", () => {
    const t = framer("auto");
    const bytes = Buffer.from("Nguyễn Thị Ánh\r\n", "utf8");
    for (const b of bytes) t.f.push(Buffer.from([b]));
    expect(t.texts()).toEqual(["Nguyễn Thị Ánh"]);
  });

  it("finds a CRLF split across two reads", () => {
    const t = framer("CRLF");
    t.f.push(Buffer.from("abc\r"));
    t.f.push(Buffer.from("\ndef\r\n"));
    expect(t.texts()).toEqual(["abc", "def"]);
  });

  it("drops a partial code after the inter-byte timeout instead of gluing it to the next", () => {
    const t = framer("auto");
    t.f.push(Buffer.from("001099012345|partial"));
    t.clock.advance(299);
    t.f.push(Buffer.from("-more"));
    t.clock.advance(301);
    expect(t.dropped).toEqual([25]);
    t.f.push(Buffer.from("next\n"));
    expect(t.texts()).toEqual(["next"]);
  });

  it("keeps a code whose bytes trickle in slower than a scan but faster than the timeout", () => {
    const t = framer("auto");
    for (const ch of "slow") {
      t.f.push(Buffer.from(ch));
      t.clock.advance(250);
    }
    t.f.push(Buffer.from("\n"));
    expect(t.texts()).toEqual(["slow"]);
    expect(t.dropped).toEqual([]);
  });

  it("cuts an over-long line at maxCodeBytes but reports its whole length", () => {
    const t = framer("auto", { maxCodeBytes: 256 });
    t.f.push(Buffer.alloc(10_240, 0x41));
    t.f.push(Buffer.from("\nok\n"));
    expect(t.codes.map((c) => [c.text.length, c.total])).toEqual([[256, 10_240], [2, 2]]);
  });

  it("emits exactly the lines of any input, however it is chunked", () => {
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^[^\r\n]{1,40}$/), { maxLength: 10 }),
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 20 }),
        (lines, cuts) => {
          const t = framer("auto");
          const all = Buffer.from(lines.map((l) => l + "\r\n").join(""), "utf8");
          let at = 0;
          for (let i = 0; at < all.length; i++) {
            const n = cuts[i % cuts.length]!;
            t.f.push(all.subarray(at, at + n));
            at += n;
          }
          expect(t.texts()).toEqual(lines);
        },
      ),
    );
  });
});
