import type { Logger } from "pino";

/**
 * Debug hooks on SIGUSR2, off unless the environment asks for them (without them SIGUSR2 keeps its default
 * meaning). They exist to prove what the service manager does with a gate that goes wrong:
 *  - `QRGATE_DEBUG_BLOCK_LOOP_MS=N`: the process blocks its event loop for N ms, as a wedged driver or a runaway
 *    loop would (the systemd watchdog pings stop, and systemd restarts the gate);
 *  - `QRGATE_DEBUG_THROW=1`: an exception nobody catches is thrown from a timer, the crash path (relay off,
 *    exit 70).
 * Returns the function that removes the hooks.
 */
export function installLoopBlocker(env: NodeJS.ProcessEnv, log: Logger): () => void {
  const ms = Number(env.QRGATE_DEBUG_BLOCK_LOOP_MS);
  const block = env.QRGATE_DEBUG_BLOCK_LOOP_MS !== undefined && Number.isSafeInteger(ms) && ms > 0;
  const crash = env.QRGATE_DEBUG_THROW === "1";
  if (!block && !crash) return () => undefined;
  const onSignal = (): void => {
    if (block) {
      log.warn({ ms }, "debug: blocking the event loop");
      // Atomics.wait blocks the thread outright: no timer, no I/O callback, no watchdog ping runs meanwhile.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
      log.warn({ ms }, "debug: event loop unblocked");
    }
    if (crash) {
      log.warn("debug: throwing an uncaught exception");
      setTimeout(() => {
        throw new Error("debug: uncaught exception requested by QRGATE_DEBUG_THROW");
      }, 0);
    }
  };
  process.on("SIGUSR2", onSignal);
  log.warn({ blockMs: block ? ms : null, crash }, "debug hooks armed on SIGUSR2");
  return () => void process.off("SIGUSR2", onSignal);
}
