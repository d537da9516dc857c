/**
 * A fresh PostgreSQL schema per store, on the machine's server (`QRGATE_TEST_PG`, default
 * postgres://root@127.0.0.1:5432/test), dropped afterwards so runs never collide.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";

export const PG_URL = process.env.QRGATE_TEST_PG ?? "postgres://root@127.0.0.1:5432/test";

export function randomSchema(): string {
  return `qrgate_test_${randomBytes(6).toString("hex")}`;
}

/** The store URL for a schema of its own. */
export function schemaUrl(schema: string): string {
  const u = new URL(PG_URL);
  u.searchParams.set("schema", schema);
  return u.toString();
}

export async function dropSchema(schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await c.end();
  }
}
