import { parseCommandLine } from "./command-line.js";
import { loadConfig } from "../config/load-config.js";
import { openDatabase } from "../store/database.js";
import { importStatusCsv } from "../store/status-import.js";
import { StatusTable } from "../store/status-table.js";
import { CliError } from "./cli-error.js";

const HELP = `usage: qrgate status import FILE [--strict] [--merge] [--require-dob] [--config FILE]

Loads the status table of the gate's store from a CSV with the columns
  id,status,doses,last_dose,recovered_on,dob,zone,flags
(a header row is optional). Every row is checked; bad rows are reported by line
number and skipped. The good rows replace the table in one transaction (--merge:
update and add to it instead). With --strict, one bad row imports nothing.
An ID given twice with different contents refuses the whole file (every line of
it is listed); a row repeated exactly is kept once, with a warning.
Rows without dob are counted in a warning (a card for such an ID is let in
without its date of birth checked); --require-dob refuses them as bad rows.
The store is the one the configuration names (--config, $QRGATE_CONFIG,
/etc/qrgate/config.json, else ./data/qrgate.db). Safe while the gate runs.

Exit status: 0 imported (bad rows, if any, reported and skipped), 3 nothing
imported, 2 usage error.`;

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "--help" || sub === "-h") {
    process.stdout.write(HELP + "\n");
    return sub === undefined ? 2 : 0;
  }
  if (sub === "publish") return (await import("./status-publish.js")).run(rest);
  if (sub !== "import") throw new CliError(`unknown status command '${sub}' (try: qrgate status import FILE, or status publish FILE)`);
  const parsed = parseCommandLine("status import", {
    args: rest,
    allowPositionals: true,
    options: {
      config: { type: "string" },
      strict: { type: "boolean", default: false },
      merge: { type: "boolean", default: false },
      "require-dob": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (parsed.values.help) {
    process.stdout.write(HELP + "\n");
    return 0;
  }
  const [file, ...extra] = parsed.positionals;
  if (file === undefined) throw new CliError("status import needs the CSV file to read");
  if (extra.length > 0) throw new CliError(`unexpected argument '${extra[0]}'`);

  const { config } = loadConfig(parsed.values.config);
  const db = openDatabase(config.store.path, { synchronous: "NORMAL" });
  try {
    const table = new StatusTable(db);
    const isTty = process.stderr.isTTY;
    const report = await importStatusCsv(table, file, {
      strict: parsed.values.strict,
      merge: parsed.values.merge,
      requireDob: parsed.values["require-dob"],
      nowMs: Date.now(),
      progress: (p) => {
        const pct = p.bytesTotal > 0 ? Math.floor((100 * p.bytesRead) / p.bytesTotal) : 100;
        process.stderr.write(`${isTty ? "\r" : ""}read ${p.lines.toLocaleString("en")} lines (${pct}%)${isTty ? "" : "\n"}`);
      },
    }).catch((e: unknown) => {
      throw new CliError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 3);
    });
    if (isTty) process.stderr.write("\r\x1b[K");
    for (const e of report.errors) process.stderr.write(`${file}:${e.line}: ${e.message}\n`);
    if (report.rejected > report.errors.length) {
      process.stderr.write(`… and ${report.rejected - report.errors.length} more bad rows\n`);
    }
    for (const c of report.conflicts) {
      for (const line of c.lines) {
        const others = c.lines.filter((l) => l !== line).join(", ");
        process.stderr.write(`${file}:${line}: same id as line ${others}, with different contents\n`);
      }
    }
    if (report.conflictingIds > report.conflicts.length) {
      process.stderr.write(`… and ${report.conflictingIds - report.conflicts.length} more IDs with conflicting rows\n`);
    }
    if (report.repeats > 0) {
      process.stderr.write(`warning: ${report.repeats} rows repeat an earlier row exactly; each is kept once\n`);
    }
    if (report.missingDob > 0) {
      process.stderr.write(
        `warning: ${report.missingDob} rows have no dob: a chip card for those IDs is accepted without a date-of-birth check (--require-dob refuses such rows)\n`,
      );
    }
    if (!report.imported) {
      const why =
        report.conflictingIds > 0
          ? `${report.conflictingIds === 1 ? "1 ID" : `${report.conflictingIds} IDs`} given twice with different contents: the file contradicts itself`
          : report.rows === 0
            ? "no valid row"
            : `${report.rejected} bad rows and --strict`;
      process.stdout.write(`nothing imported (${why}); ${report.rows} valid, ${report.rejected} rejected; table unchanged at version ${report.version} with ${report.totalRows} rows\n`);
      return 3;
    }
    process.stdout.write(
      `imported ${report.rows} rows, rejected ${report.rejected}; status table now version ${report.version} with ${report.totalRows} rows (${parsed.values.merge ? "merged" : "replaced"})\n`,
    );
    return 0;
  } finally {
    db.close();
  }
}
