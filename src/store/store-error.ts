/** A failure of the local store, with a stable code callers branch on. */
export type StoreErrorCode = "E_STORE_OPEN" | "E_STORE_MIGRATE" | "E_STORE_WRITE" | "E_STORE_VERSION";

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "StoreError";
  }
}
