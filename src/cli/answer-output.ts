/**
 * Where a centre verb writes its answer: stdout, or a file that only its owner can read (mode 0600: a trace
 * names people). Chunks are written as they come, waiting for the stream to drain, so an answer of any size
 * prints without being held whole in memory twice.
 */
import { closeSync, fchmodSync, openSync, statSync, writeSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { CliError } from "./cli-error.js";
import { printable } from "../centre/trace-render.js";

/** Throws a one-line CliError unless `path` can be created: its folder exists and it is not a folder itself. */
export function checkOutputPath(option: string, path: string): void {
  const dir = dirname(resolve(path));
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new CliError(`${option} '${printable(path)}': folder '${printable(dir)}' does not exist`);
  }
  if (!isDir) throw new CliError(`${option} '${printable(path)}': '${printable(dir)}' is not a folder`);
  try {
    if (statSync(path).isDirectory()) throw new CliError(`${option} '${printable(path)}' is a folder`);
  } catch (e) {
    if (e instanceof CliError) throw e;
    // does not exist yet: fine
  }
}

type Chunks = Iterable<string> | AsyncIterable<string>;

/** Writes `chunks` to `path`, created or truncated with mode 0600 (also when it existed with a wider mode). */
export async function writePrivateFile(option: string, path: string, chunks: Chunks): Promise<void> {
  let fd: number;
  try {
    fd = openSync(path, "w", 0o600);
  } catch (e) {
    throw new CliError(`${option} '${printable(path)}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    fchmodSync(fd, 0o600);
    for await (const c of chunks) writeSync(fd, c);
  } catch (e) {
    if (!isErrno(e)) throw e;
    throw new CliError(`${option} '${printable(path)}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  } finally {
    closeSync(fd);
  }
}

/** Writes `chunks` to stdout with back-pressure. A closed pipe (`| head`) ends the writing quietly. */
export async function writeStdout(chunks: Chunks): Promise<void> {
  const out = process.stdout;
  let closed = false;
  const onError = (): void => {
    closed = true;
  };
  out.on("error", onError);
  try {
    for await (const c of chunks) {
      if (closed) return;
      if (!out.write(c)) await drained(out);
    }
  } finally {
    out.off("error", onError);
  }
}

/** A file-system error (with an errno code), as opposed to one from producing the chunks (a database error). */
function isErrno(e: unknown): boolean {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).errno === "number";
}

/** Resolves on `drain` or `close`, whichever comes first, and leaves no listener behind. */
function drained(out: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      out.off("drain", done);
      out.off("close", done);
      resolve();
    };
    out.on("drain", done);
    out.on("close", done);
  });
}
