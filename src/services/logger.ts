import { pino, type Logger } from "pino";

/**
 * One JSON event a line on stderr (stdout is for what a command prints to its user). Secrets are redacted
 * wherever a config object is logged.
 */
export function createLogger(level: string): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: { paths: ["*.password", "*.key", "mqtt.password", "pseudonymize.key"], censor: "[secret]" },
    },
    pino.destination({ fd: 2, sync: true }),
  );
}
