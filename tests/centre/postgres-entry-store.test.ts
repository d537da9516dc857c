import { PostgresEntryStore } from "../../src/centre/postgres-entry-store.js";
import { entryStoreContract } from "./entry-store-contract.js";
import { dropSchema, randomSchema, schemaUrl } from "./postgres-support.js";

entryStoreContract("PostgreSQL", {
  create() {
    return Promise.resolve(new PostgresEntryStore(schemaUrl(randomSchema())));
  },
  async destroy(store) {
    const schema = (store as PostgresEntryStore).schema;
    await store.close();
    if (schema !== null) await dropSchema(schema);
  },
});
