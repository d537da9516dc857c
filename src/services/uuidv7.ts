import { randomFillSync } from "node:crypto";

/**
 * UUIDv7 (RFC 9562): 48-bit Unix ms, then random bits. Within one millisecond the 12-bit `rand_a` field counts
 * up, so ids from one generator sort in creation order; they are the entries' idempotency keys.
 */
/** Random bytes drawn from the system at once, 8 an id: one call per 512 ids rather than one per id. */
const POOL_BYTES = 4096;

export class Uuidv7Generator {
  private lastMs = -1;
  private counter = 0;
  private readonly buf = Buffer.alloc(16);
  private readonly pool = Buffer.alloc(POOL_BYTES);
  private poolAt = POOL_BYTES;

  next(wallMs: number): string {
    let ms = Math.max(0, Math.floor(wallMs));
    if (ms <= this.lastMs) {
      ms = this.lastMs;
      this.counter++;
      if (this.counter > 0xfff) {
        // 4,096 ids in one ms: borrow the next millisecond rather than repeat an order.
        ms = this.lastMs + 1;
        this.counter = 0;
      }
    } else {
      this.counter = 0;
    }
    this.lastMs = ms;
    const b = this.buf;
    if (this.poolAt === POOL_BYTES) {
      randomFillSync(this.pool);
      this.poolAt = 0;
    }
    this.pool.copy(b, 8, this.poolAt, this.poolAt + 8);
    // Used bytes are never handed out twice.
    this.poolAt += 8;
    b.writeUIntBE(ms, 0, 6);
    b[6] = 0x70 | ((this.counter >> 8) & 0x0f);
    b[7] = this.counter & 0xff;
    b[8] = 0x80 | ((b[8] as number) & 0x3f);
    const h = b.toString("hex");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
}
