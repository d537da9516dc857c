/**
 * The one mapping from a failure a verb throws to what the user reads and the exit status; used only by main.ts
 * (which documents the statuses). Kept apart so it can be tested value by value.
 */
import { ConfigError } from "../config/config-error.js";
import { StoreError } from "../store/store-error.js";
import { CliError } from "./cli-error.js";

/** Exit status for a usage, configuration or path problem. */
export const EXIT_USAGE = 2;
/** Exit status for a bug or anything else unexpected (sysexits EX_SOFTWARE). */
export const EXIT_SOFTWARE = 70;
/** File errors that mean "this path cannot be used", not "qrgate is broken". */
const PATH_ERRNOS = new Set(["ENOENT", "EACCES", "EPERM", "EROFS", "ENOTDIR", "EISDIR", "ENOSPC", "EEXIST", "ELOOP", "ENAMETOOLONG"]);

/** `E_GPIO_BUSY`, `E_HID_UNAVAILABLE`, …; Node's own codes are `ERR_…` and errno names have no prefix. */
const TYPED_CODE = /^E_[A-Z0-9_]+$/;

const debug = (env: NodeJS.ProcessEnv): boolean => env.QRGATE_DEBUG !== undefined && env.QRGATE_DEBUG !== "" && env.QRGATE_DEBUG !== "0";

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, "; ");
}

/** The one mapping from a thrown value to what the user sees and the exit status. */
export function failure(e: unknown, env: NodeJS.ProcessEnv = process.env): { status: number; text: string } {
  if (e instanceof CliError) return { status: e.exitCode, text: e.message };
  if (e instanceof ConfigError) {
    const [only, ...more] = e.problems;
    const text = only !== undefined && more.length === 0 ? `invalid configuration ${e.source}: ${only}` : e.message;
    return { status: EXIT_USAGE, text };
  }
  if (e instanceof StoreError) return { status: EXIT_USAGE, text: oneLine(e.message) };
  const errno = e as NodeJS.ErrnoException;
  // The house convention for errors a user can act on (a device missing or busy, a key file): a typed code.
  if (e instanceof Error && typeof errno.code === "string" && TYPED_CODE.test(errno.code)) {
    return { status: EXIT_USAGE, text: oneLine(e.message) };
  }
  if (e instanceof Error && typeof errno.code === "string" && PATH_ERRNOS.has(errno.code) && typeof errno.path === "string") {
    return { status: EXIT_USAGE, text: `cannot use ${errno.path}: ${errno.code}` };
  }
  const message = e instanceof Error ? e.message : String(e);
  const stack = e instanceof Error && debug(env) ? `\n${e.stack ?? ""}` : " (QRGATE_DEBUG=1 shows the stack)";
  return { status: EXIT_SOFTWARE, text: `internal error: ${oneLine(message)}${stack}` };
}

