/**
 * What must happen on a crash, whatever verb is running: `main.ts` calls these hooks (synchronously, in reverse
 * order of registration) from its uncaughtException/unhandledRejection handler before it exits. The gate
 * registers its relay-off here.
 */
const hooks: Array<(e: unknown) => void> = [];

/** Registers `fn` to run on a crash; returns the function that removes it. */
export function onFatal(fn: (e: unknown) => void): () => void {
  hooks.push(fn);
  return () => {
    const i = hooks.indexOf(fn);
    if (i >= 0) hooks.splice(i, 1);
  };
}

/** Runs every hook; a hook that throws does not stop the others. */
export function runFatalHooks(e: unknown): void {
  for (const fn of [...hooks].reverse()) {
    try {
      fn(e);
    } catch {
      // Best effort on the way down: the next hook (and the exit) must still happen.
    }
  }
}
