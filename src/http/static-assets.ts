import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** One file a page server may send: its URL path, its file under src/web/ and its media type. */
export interface AssetSpec {
  readonly urlPath: string;
  readonly file: string;
  readonly type: string;
}

export interface Asset {
  readonly body: Buffer;
  readonly type: string;
}

/**
 * The folder of the pages (src/web/), shipped as is in the package (package.json `files`): found from this module
 * whether it runs from src/ (tests) or dist/src/ (the installed program).
 */
export function webRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = resolve(dir, "src/web");
    if (existsSync(join(candidate, "kiosk/index.html"))) return candidate;
    dir = dirname(dir);
  }
  throw new Error("src/web/ (the kiosk and dashboard pages) not found beside the qrgate package");
}

/**
 * Reads an allow-list of page files into memory once (a few kB): requests never touch the file system, so no
 * path in a request can name another file.
 */
export function loadAssets(specs: readonly AssetSpec[]): ReadonlyMap<string, Asset> {
  const root = webRoot();
  const out = new Map<string, Asset>();
  for (const s of specs) out.set(s.urlPath, { body: readFileSync(join(root, s.file)), type: s.type });
  return out;
}

export const HTML = "text/html; charset=utf-8";
export const CSS = "text/css; charset=utf-8";
export const JS = "text/javascript; charset=utf-8";

/** Only this origin's own files and its event stream: the pages work with no network beyond the device. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};
