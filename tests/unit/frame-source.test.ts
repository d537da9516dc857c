import { describe, expect, it } from "vitest";
import { FrameSource } from "../../src/drivers/camera/frame-source.js";
import type { GrayFrame } from "../../src/drivers/camera/gray-frame.js";
import { FakeClock } from "../fakes/fake-clock.js";

/** A camera command that writes `script`'s bytes in uneven chunks, then exits. */
function node(script: string): string[] {
  return [process.execPath, "-e", script];
}

function collect(source: FrameSource): Promise<{ frames: GrayFrame[]; ended: string }> {
  const frames: GrayFrame[] = [];
  return new Promise((resolve) => {
    source.start({ frame: (f) => frames.push(f), ended: (ended) => resolve({ frames, ended }) });
  });
}

describe("frame source", () => {
  it("splits a gray byte stream into whole frames, whatever the chunking, and drops a trailing partial frame", async () => {
    // 2.5 frames of 4x2, written 3 bytes at a time.
    const script = `const b=Buffer.from(Array.from({length:20},(_, i)=>i));(async()=>{for(let i=0;i<b.length;i+=3){process.stdout.write(b.subarray(i,i+3));await new Promise(r=>setTimeout(r,1));}})()`;
    const { frames, ended } = await collect(new FrameSource({ argv: node(script), width: 4, height: 2, pixelFormat: "gray" }, new FakeClock()));
    expect(frames.map((f) => [...f.data])).toEqual([
      [0, 1, 2, 3, 4, 5, 6, 7],
      [8, 9, 10, 11, 12, 13, 14, 15],
    ]);
    expect(ended).toMatch(/exited with code 0/);
  });

  it("keeps the Y plane of YUV 4:2:0 frames and skips the colour planes", async () => {
    // 4x2 YUV420: 8 Y bytes + 2 U + 2 V = 12 bytes a frame.
    const script = `process.stdout.write(Buffer.from([1,2,3,4,5,6,7,8, 200,200, 201,201, 9,10,11,12,13,14,15,16, 202,202, 203,203]))`;
    const { frames } = await collect(new FrameSource({ argv: node(script), width: 4, height: 2, pixelFormat: "yuv420" }, new FakeClock()));
    expect(frames.map((f) => [...f.data])).toEqual([
      [1, 2, 3, 4, 5, 6, 7, 8],
      [9, 10, 11, 12, 13, 14, 15, 16],
    ]);
  });

  it("says what the camera program printed when it dies", async () => {
    const { ended } = await collect(new FrameSource({ argv: node(`console.error("failed to open /dev/video0: busy"); process.exit(3)`), width: 4, height: 2, pixelFormat: "gray" }, new FakeClock()));
    expect(ended).toMatch(/exited with code 3: failed to open \/dev\/video0: busy/);
  });
});
