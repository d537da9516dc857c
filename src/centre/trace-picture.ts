/**
 * The picture of a contact trace, for the people who must act on it: one time line per door the subject passed,
 * the subject's passages as red marks with their window shaded, and the contacts' passages as numbered dots
 * (the number is the contact's rank). Self-contained SVG (and an HTML page wrapping it with the ranked list):
 * no external fonts, scripts or styles. Times are labelled in the display zone.
 */
import type { ContactReport } from "./trace-queries.js";
import { formatLocal, zoneOffsetMs } from "./time.js";
import { humanSeconds, printable } from "./trace-render.js";

// Control characters are not allowed in XML at all (an ESC in a door name would make the SVG unreadable): they
// are shown escaped, as on the terminal.
const esc = (s: string): string =>
  printable(s)
    .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");

const PALETTE = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#ff7f0e", "#393b79"];
const TICKS_MS = [60_000, 300_000, 900_000, 1_800_000, 3_600_000, 3 * 3_600_000, 6 * 3_600_000, 12 * 3_600_000, 86_400_000, 7 * 86_400_000];

/** How many contacts get their own number and colour; the rest are grey dots. */
export const LABELLED_CONTACTS = 20;

interface Lane {
  key: string;
  label: string;
}

export interface PictureOptions {
  readonly zone: string;
  /** Shown in the title instead of the stored subject (never the clear ID of a pseudonymized site). */
  readonly title?: string;
}

export function renderSvg(report: ContactReport, opts: PictureOptions): string {
  const zone = opts.zone;
  const w = report.windowMs;
  const lanes: Lane[] = [];
  const laneIndex = new Map<string, number>();
  // One lane per door of a site, whichever reader took the passage (a door may have several readers); then
  // the doors where only contacts passed (a `--scope site` trace).
  const doorKey = (e: { site: string; device: string; door: string }): string => `${e.site}/${e.door}`;
  const addLane = (e: { site: string; device: string; door: string }): void => {
    const k = doorKey(e);
    if (!laneIndex.has(k)) {
      laneIndex.set(k, lanes.length);
      lanes.push({ key: k, label: k });
    }
  };
  for (const p of report.subjectPassages) addLane(p);
  for (const c of report.contacts.slice(0, LABELLED_CONTACTS)) for (const p of c.passages) addLane(p);
  const segments = timeSegments(report);
  const left = 230;
  const right = 30;
  const top = 70;
  const laneH = 80;
  const width = 1200;
  const plotW = width - left - right;
  const legendRows = Math.min(report.contacts.length, LABELLED_CONTACTS);
  layOut(segments, left, plotW);
  const x = (t: number): number => xOf(segments, t);
  const axisY = top + Math.max(lanes.length, 1) * laneH;
  // Passages days apart break the axis into the stretches around them (the time between is left out: nobody
  // is there to find). A stretch wide enough gets ticks aligned to local wall time; a narrow one its start.
  const ticked = segments.map((seg) => {
    const pxPerMs = (seg.x1 - seg.x0) / (seg.to - seg.from);
    const step = TICKS_MS.find((st) => st * pxPerMs >= 75);
    if (step === undefined) return null;
    const offset = zoneOffsetMs(seg.from, zone);
    const ticks: number[] = [];
    for (let t = Math.ceil((seg.from + offset) / step) * step - offset; t <= seg.to; t += step) ticks.push(t);
    return ticks.length >= 2 ? ticks : null;
  });
  const rotated = ticked.some((t) => t === null);
  const legendTop = axisY + (rotated ? 95 : 30) + 20;
  const height = legendTop + 30 + Math.ceil(legendRows / 2) * 18 + 20;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${left}" y="24" font-size="16" font-weight="bold">${esc(opts.title ?? `Contacts of ${report.subject}`)}</text>`,
    `<text x="${left}" y="44" fill="#444">${esc(
      `${report.subjectPassages.length} passages, ${report.contacts.length} contacts within ±${humanSeconds(w / 1000)}; times in ${zone}`,
    )}</text>`,
  );

  lanes.forEach((lane, i) => {
    const y = top + i * laneH;
    for (const seg of segments) {
      out.push(`<rect x="${seg.x0.toFixed(1)}" y="${y}" width="${(seg.x1 - seg.x0).toFixed(1)}" height="${laneH}" fill="${i % 2 === 0 ? "#fafafa" : "#f2f2f2"}"/>`);
    }
    out.push(`<text x="${left - 10}" y="${y + laneH / 2 + 4}" text-anchor="end">${esc(lane.label)}</text>`);
  });
  if (lanes.length === 0) {
    out.push(`<text x="${left + plotW / 2}" y="${top + laneH / 2}" text-anchor="middle" fill="#888">no passages of the subject in this range</text>`);
  }

  let lastDay = "";
  segments.forEach((seg, i) => {
    out.push(`<line x1="${seg.x0.toFixed(1)}" y1="${axisY}" x2="${seg.x1.toFixed(1)}" y2="${axisY}" stroke="#888"/>`);
    const ticks = ticked[i];
    if (ticks === null || ticks === undefined) {
      out.push(
        `<line x1="${seg.x0.toFixed(1)}" y1="${axisY}" x2="${seg.x0.toFixed(1)}" y2="${axisY + 5}" stroke="#888"/>`,
        `<text transform="translate(${seg.x0.toFixed(1)},${axisY + 14}) rotate(40)" fill="#444" font-size="10">${esc(
          formatLocal(seg.from, zone).slice(5, 16),
        )}</text>`,
      );
      return;
    }
    for (const t of ticks) {
      const local = formatLocal(t, zone);
      const day = local.slice(0, 10);
      const label = day !== lastDay ? `${day.slice(5)} ${local.slice(11, 16)}` : local.slice(11, 16);
      lastDay = day;
      out.push(
        `<line x1="${x(t).toFixed(1)}" y1="${top}" x2="${x(t).toFixed(1)}" y2="${axisY + 4}" stroke="#e4e4e4"/>`,
        rotated
          ? `<text transform="translate(${x(t).toFixed(1)},${axisY + 14}) rotate(40)" fill="#444" font-size="10">${esc(label)}</text>`
          : `<text x="${x(t).toFixed(1)}" y="${axisY + 16}" text-anchor="middle" fill="#444">${esc(label)}</text>`,
      );
    }
  });

  for (const p of report.subjectPassages) {
    const i = laneIndex.get(doorKey(p)) ?? 0;
    const y = top + i * laneH;
    const t = Date.parse(p.ts);
    out.push(
      `<rect x="${x(t - w).toFixed(1)}" y="${y + 2}" width="${(x(t + w) - x(t - w)).toFixed(1)}" height="${laneH - 4}" fill="#d62728" fill-opacity="0.10"/>`,
      `<line x1="${x(t).toFixed(1)}" y1="${y + 2}" x2="${x(t).toFixed(1)}" y2="${y + laneH - 2}" stroke="#d62728" stroke-width="2.5"><title>${esc(
        `subject passed ${lane(p)} at ${formatLocal(t, zone)}`,
      )}</title></line>`,
    );
  }

  // Contacts, lowest rank drawn last so the most important sit on top.
  for (let r = report.contacts.length - 1; r >= 0; r--) {
    const c = report.contacts[r]!;
    const labelled = r < LABELLED_CONTACTS;
    const colour = labelled ? PALETTE[r % PALETTE.length]! : "#9a9a9a";
    for (const p of c.passages) {
      const i = laneIndex.get(doorKey(p));
      if (i === undefined) continue;
      const y = top + i * laneH + 14 + (r % 6) * 10;
      const cx = x(Date.parse(p.ts)).toFixed(1);
      const tip = `#${r + 1} ${c.subject} at ${formatLocal(Date.parse(p.ts), zone)} (${p.deltaSeconds >= 0 ? "+" : "-"}${humanSeconds(p.deltaSeconds)} from the subject)`;
      out.push(
        `<g><title>${esc(tip)}</title><circle cx="${cx}" cy="${y}" r="${labelled ? 7 : 4}" fill="${colour}" fill-opacity="0.85"/>` +
          (labelled ? `<text x="${cx}" y="${y + 3.5}" text-anchor="middle" font-size="9" fill="#fff">${r + 1}</text>` : "") +
          `</g>`,
      );
    }
  }

  // Legend: the labelled contacts, two columns.
  out.push(`<text x="${left}" y="${legendTop}" font-weight="bold">Ranked contacts (shared passages, closest time)</text>`);
  for (let r = 0; r < legendRows; r++) {
    const c = report.contacts[r]!;
    const col = r % 2;
    const lx = left + col * (plotW / 2);
    const ly = legendTop + 22 + Math.floor(r / 2) * 18;
    out.push(
      `<circle cx="${lx + 6}" cy="${ly - 4}" r="6" fill="${PALETTE[r % PALETTE.length]!}"/>`,
      `<text x="${lx + 6}" y="${ly - 1}" text-anchor="middle" font-size="8" fill="#fff">${r + 1}</text>`,
      `<text x="${lx + 18}" y="${ly}">${esc(`${shortSubject(c.subject)}  ${c.sharedPassages} shared, ${humanSeconds(c.closestSeconds)}`)}</text>`,
    );
  }
  if (report.contacts.length > LABELLED_CONTACTS) {
    out.push(`<text x="${left}" y="${height - 8}" fill="#666">${report.contacts.length - LABELLED_CONTACTS} more contacts drawn as grey dots</text>`);
  }
  out.push("</svg>");
  return out.join("\n") + "\n";

  function lane(p: { site: string; device: string; door: string }): string {
    return doorKey(p);
  }
}

interface Segment {
  /** UTC epoch ms. */
  from: number;
  to: number;
  /** Where it is drawn. */
  x0: number;
  x1: number;
}

/**
 * The stretches of time worth drawing: each passage of the subject with its window, merged when they overlap
 * or lie within two windows of each other; the whole range when the subject did not pass.
 */
export function timeSegments(report: ContactReport): Segment[] {
  const w = report.windowMs;
  const spans = report.subjectPassages
    .map((p) => [Date.parse(p.ts) - w, Date.parse(p.ts) + w] as const)
    .sort((a, b) => a[0] - b[0]);
  if (spans.length === 0) return [{ from: report.range.fromMs, to: report.range.toMs, x0: 0, x1: 0 }];
  const out: Segment[] = [];
  for (const [from, to] of spans) {
    const last = out[out.length - 1];
    if (last !== undefined && from <= last.to + 2 * w) last.to = Math.max(last.to, to);
    else out.push({ from, to, x0: 0, x1: 0 });
  }
  // A little air at both ends of each stretch.
  for (const seg of out) {
    const pad = Math.max((seg.to - seg.from) * 0.03, 1000);
    seg.from -= pad;
    seg.to += pad;
  }
  return out;
}

const SEGMENT_GAP = 14;

/** Shares the plot's width between segments: half equally, half by duration, so none is too thin to read. */
function layOut(segments: Segment[], left: number, plotW: number): void {
  const avail = plotW - SEGMENT_GAP * (segments.length - 1);
  const total = segments.reduce((n, s) => n + (s.to - s.from), 0);
  let xPos = left;
  for (const seg of segments) {
    const width = avail * (0.5 / segments.length + (0.5 * (seg.to - seg.from)) / total);
    seg.x0 = xPos;
    seg.x1 = xPos + width;
    xPos = seg.x1 + SEGMENT_GAP;
  }
}

function xOf(segments: readonly Segment[], t: number): number {
  let best = segments[0]!;
  for (const seg of segments) {
    if (t >= seg.from && t <= seg.to) {
      best = seg;
      break;
    }
    if (t > seg.to) best = seg;
  }
  const f = Math.min(Math.max((t - best.from) / (best.to - best.from), 0), 1);
  return best.x0 + f * (best.x1 - best.x0);
}

/** A 64-hex pseudonym is shortened for the legend (the full value is in the tooltip and the list). */
function shortSubject(s: string): string {
  return s.length > 20 ? `${s.slice(0, 12)}…` : s;
}

export function renderHtml(report: ContactReport, opts: PictureOptions): string {
  const zone = opts.zone;
  const title = opts.title ?? `Contacts of ${report.subject}`;
  const rows = report.contacts
    .map(
      (c, i) =>
        `<tr><td class="n">${i + 1}</td><td><code>${esc(c.subject)}</code></td><td class="n">${c.sharedPassages}</td>` +
        `<td class="n">${esc(humanSeconds(c.closestSeconds))}</td><td>${esc(
          c.passages.map((p) => `${p.site}/${p.device}/${p.door} ${formatLocal(Date.parse(p.ts), zone)}`).join("; "),
        )}</td></tr>`,
    )
    .join("\n");
  const mine = report.subjectPassages
    .map((p) => `<li>${esc(`${formatLocal(Date.parse(p.ts), zone)}  ${p.site}/${p.device}/${p.door}`)}</li>`)
    .join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${esc(title)}</title>
<style>
body { font-family: sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; margin-top: 12px; }
td, th { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: left; vertical-align: top; }
td.n { text-align: right; }
code { font-size: 12px; }
.note { color: #555; }
</style>
</head>
<body>
<h1>${esc(title)}</h1>
<p class="note">Window ±${esc(humanSeconds(report.windowMs / 1000))}; range ${esc(formatLocal(report.range.fromMs, zone))} to ${esc(
    formatLocal(report.range.toMs, zone),
  )}; times in ${esc(zone)}. Only allowed passages count unless the trace included denied ones.</p>
${renderSvg(report, opts)}
<h2>Passages of the subject</h2>
<ul>
${mine}
</ul>
<h2>Contacts, ranked</h2>
<table>
<tr><th>#</th><th>subject</th><th>shared</th><th>closest</th><th>passages</th></tr>
${rows}
</table>
</body>
</html>
`;
}
