import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteEntryStore } from "../../src/centre/sqlite-entry-store.js";
import { entryStoreContract } from "./entry-store-contract.js";

const dirs = new Map<object, string>();

entryStoreContract("SQLite file", {
  create() {
    const dir = mkdtempSync(join(tmpdir(), "qrgate-centre-"));
    const store = new SqliteEntryStore(join(dir, "centre.db"));
    dirs.set(store, dir);
    return Promise.resolve(store);
  },
  async destroy(store) {
    await store.close();
    const dir = dirs.get(store);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  },
});
