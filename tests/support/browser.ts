/**
 * Debian's Chromium driven by playwright-core (never a downloaded browser), and axe-core run inside a page.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium, type Browser, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Root in a container has no user namespace sandbox; the pages under test are our own.
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--font-render-hinting=none"],
  });
}

export interface AxeViolation {
  readonly id: string;
  readonly impact: string | null;
  readonly help: string;
  readonly nodes: number;
}

export interface AxeSummary {
  readonly violations: AxeViolation[];
  readonly passes: number;
  readonly incomplete: number;
}

const axeSource = (): string => readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/**
 * Runs axe-core (WCAG 2.0/2.1 A and AA rules and best practices) in the page as it is now. The source is
 * evaluated over the DevTools protocol, so the page's Content-Security-Policy does not have to allow it.
 */
export async function runAxe(page: Page): Promise<AxeSummary> {
  await page.evaluate(axeSource());
  return await page.evaluate<AxeSummary>(`(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return {
      violations: r.violations.map((v) => ({ id: v.id, impact: v.impact ?? null, help: v.help, nodes: v.nodes.length })),
      passes: r.passes.length,
      incomplete: r.incomplete.length,
    };
  })()`);
}

/** Violations a user would be stopped by: axe's `serious` and `critical`. */
export function blocking(s: AxeSummary): AxeViolation[] {
  return s.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
}
