// The fleet dashboard: rows pushed over Server-Sent Events (/events, only the rows that changed), a device's
// detail fetched when it is opened (and again when its row changes), signed commands sent after a confirmation.
// Interactions are timed to the next paint in `window.qrgateFleet.interactions` (ms).
"use strict";

(function () {
  var SVG = "http://www.w3.org/2000/svg";
  var LEVELS = {
    ok: { icon: "●", text: "Online" },
    silent: { icon: "▲", text: "Silent" },
    degraded: { icon: "⚠", text: "Degraded" },
    offline: { icon: "✕", text: "Offline" },
    unknown: { icon: "?", text: "Unknown" },
  };
  var OPS = {
    open: "open the door once",
    lockdown: "LOCK DOWN (every code refused until 'normal')",
    normal: "return to normal",
    sync: "sync the status table and keys",
  };

  var $ = function (id) {
    return document.getElementById(id);
  };
  var tbody = $("rows");
  var fSite = $("f-site");
  var fState = $("f-state");
  var fText = $("f-text");
  var fAlarms = $("f-alarms");
  var detail = $("detail");

  var devices = new Map(); // key -> row as pushed
  var sites = new Set();
  var selected = null;
  var commandsOn = false;
  var streamUp = false;
  var state = { interactions: [], breakdown: [], devices: devices, ready: false };
  window.qrgateFleet = state;

  function ago(iso) {
    if (!iso) return "never";
    var s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h ago";
    return Math.floor(s / 86400) + " d ago";
  }
  function age(s) {
    if (s === null || s === undefined) return "—";
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min";
    if (s < 86400) return Math.floor(s / 3600) + " h";
    return Math.floor(s / 86400) + " d";
  }
  function num(v, unit) {
    return v === null || v === undefined ? "—" : String(Math.round(v * 10) / 10) + (unit || "");
  }

  function badge(level) {
    var l = LEVELS[level] || LEVELS.unknown;
    var span = document.createElement("span");
    span.className = "badge " + level;
    span.textContent = l.icon + " " + l.text;
    return span;
  }

  function makeRow(key) {
    var tr = document.createElement("tr");
    var cells = [];
    for (var i = 0; i < 8; i++) {
      var td = document.createElement(i === 2 ? "th" : "td");
      if (i === 2) td.scope = "row";
      if (i === 4 || i === 6) td.className = "num";
      tr.appendChild(td);
      cells.push(td);
    }
    var b = document.createElement("button");
    b.type = "button";
    b.className = "link";
    b.dataset.key = key;
    cells[2].appendChild(b);
    return { tr: tr, cells: cells, button: b, row: null, level: null };
  }

  function setText(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }

  // Only what changed is touched: with 1,000 rows, rewriting every cell on every push costs whole frames.
  function fill(d) {
    var r = d.row;
    if (d.level !== r.level) {
      d.level = r.level;
      d.tr.className = "lvl-" + r.level;
      d.tr.dataset.level = r.level;
      d.cells[0].replaceChildren(badge(r.level));
    }
    if (r.level === "degraded") d.cells[0].title = r.reason || "";
    if (d.button.textContent === "") {
      d.tr.dataset.key = r.key;
      d.cells[1].textContent = r.site;
      d.button.textContent = r.device;
      d.button.setAttribute("aria-label", "Details of " + r.site + "/" + r.device);
    }
    setText(d.cells[3], ago(r.lastHeard));
    setText(d.cells[4], r.outboxDepth === null ? "—" : String(r.outboxDepth));
    setText(d.cells[5], r.statusVersion === null ? "—" : "v" + r.statusVersion + " · " + age(r.statusAgeS) + (r.stale ? " (stale)" : ""));
    setText(d.cells[6], num(r.scanP99Ms, " ms"));
    var alarms = r.alarms.length === 0 ? "none" : "⚠ " + r.alarms.join(", ");
    setText(d.cells[7], alarms);
    if (d.cells[7].title !== alarms) d.cells[7].title = alarms;
    var cls = r.alarms.length === 0 ? "" : "alarm";
    if (d.cells[7].className !== cls) d.cells[7].className = cls;
  }

  function matches(r) {
    if (fSite.value && r.site !== fSite.value) return false;
    var s = fState.value;
    if (s === "problem" ? r.level === "ok" || r.level === "unknown" : s && r.level !== s) return false;
    if (fText.value && r.device.indexOf(fText.value.trim().toLowerCase()) < 0) return false;
    if (fAlarms.checked && r.alarms.length === 0) return false;
    return true;
  }

  var PAGE = 100;
  var RANK = { offline: 0, degraded: 1, silent: 2, unknown: 3, ok: 4 };
  var limit = PAGE;
  var made = new Map(); // key -> row elements, made once and reused
  var rendered = new Set(); // keys whose rows are in the table now
  var renderPending = false;

  function byProblemThenName(a, b) {
    var r = RANK[a.level] - RANK[b.level];
    return r !== 0 ? r : a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
  }

  // Problems first (offline, silent), then by site and device; at most `limit` rows in the document, so a fleet of
  // thousands costs the browser no more than a page of it.
  function render() {
    renderPending = false;
    var list = [];
    devices.forEach(function (r) {
      if (matches(r)) list.push(r);
    });
    list.sort(byProblemThenName);
    var shown = list.slice(0, limit);
    var trs = [];
    rendered = new Set();
    shown.forEach(function (r) {
      var d = made.get(r.key);
      if (d === undefined) {
        d = makeRow(r.key);
        made.set(r.key, d);
      }
      d.row = r;
      fill(d);
      trs.push(d.tr);
      rendered.add(r.key);
    });
    tbody.replaceChildren.apply(tbody, trs);
    $("empty").hidden = list.length > 0 || devices.size === 0;
    $("more").hidden = list.length <= shown.length;
    $("caption").textContent =
      "Devices: " + list.length + " match of " + devices.size + (list.length > shown.length ? ", showing the first " + shown.length + " (problems first)" : "");
  }

  function applyFilters() {
    limit = PAGE;
    render();
  }

  function scheduleRender() {
    if (renderPending) return;
    renderPending = true;
    requestAnimationFrame(render);
  }

  function summary() {
    var n = { ok: 0, degraded: 0, silent: 0, offline: 0, unknown: 0 };
    devices.forEach(function (r) {
      n[r.level]++;
    });
    var text =
      "● " + n.ok + " online · ▲ " + n.silent + " silent · ✕ " + n.offline + " offline" + (n.degraded ? " · ⚠ " + n.degraded + " degraded" : "") + (n.unknown ? " · ? " + n.unknown + " unknown" : "");
    if (!streamUp) text += " — connection to the dashboard lost, retrying";
    $("summary").textContent = text;
  }

  function addSite(site) {
    if (sites.has(site)) return;
    sites.add(site);
    var opts = Array.from(sites).sort();
    var keep = fSite.value;
    var first = fSite.options[0];
    fSite.replaceChildren(first);
    opts.forEach(function (s) {
      var o = document.createElement("option");
      o.value = s;
      o.textContent = s;
      fSite.appendChild(o);
    });
    fSite.value = keep;
  }

  function onRows(msg) {
    if (msg.full) {
      devices.clear();
      made.clear();
      commandsOn = !!msg.commands;
      $("commands-note").hidden = commandsOn;
    }
    var reorder = msg.full;
    msg.rows.forEach(function (r) {
      var before = devices.get(r.key);
      devices.set(r.key, r);
      addSite(r.site);
      // A row that comes, goes, or changes level or alarms may move or leave the page: render it again.
      if (!before || before.level !== r.level || before.alarms.length !== r.alarms.length || matches(before) !== matches(r)) reorder = true;
      else if (rendered.has(r.key)) {
        var d = made.get(r.key);
        d.row = r;
        fill(d);
      }
      if (selected === r.key) loadDetail(r.key, false);
    });
    (msg.removed || []).forEach(function (k) {
      devices.delete(k);
      made.delete(k);
      reorder = true;
    });
    if (reorder) scheduleRender();
    summary();
    state.ready = true;
  }

  // ---- detail ----
  function field(dl, k, v) {
    var dt = document.createElement("dt");
    dt.textContent = k;
    var dd = document.createElement("dd");
    if (v instanceof Node) dd.appendChild(v);
    else dd.textContent = v === null || v === undefined || v === "" ? "—" : String(v);
    dl.appendChild(dt);
    dl.appendChild(dd);
  }

  function chart(perHour) {
    var w = 360;
    var h = 120;
    var pad = 16;
    var max = 1;
    var total = 0;
    var peak = null;
    perHour.forEach(function (p) {
      var t = p.allow + p.deny;
      total += t;
      if (t > max) max = t;
      if (peak === null || t > peak.allow + peak.deny) peak = p;
    });
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 " + w + " " + h);
    svg.setAttribute("role", "img");
    var label = "Entries per hour over the last 24 hours: " + total + " in all";
    if (peak && peak.allow + peak.deny > 0) label += ", most at " + new Date(peak.hourMs).getHours() + ":00 (" + (peak.allow + peak.deny) + ")";
    svg.setAttribute("aria-label", label + ". Green: allowed, red: refused.");
    var bw = (w - pad) / perHour.length;
    perHour.forEach(function (p, i) {
      var x = pad + i * bw;
      var ha = ((h - 2 * pad) * p.allow) / max;
      var hd = ((h - 2 * pad) * p.deny) / max;
      var a = document.createElementNS(SVG, "rect");
      a.setAttribute("class", "allow");
      a.setAttribute("x", String(x + 1));
      a.setAttribute("width", String(bw - 2));
      a.setAttribute("y", String(h - pad - ha));
      a.setAttribute("height", String(ha));
      var d = document.createElementNS(SVG, "rect");
      d.setAttribute("class", "deny");
      d.setAttribute("x", String(x + 1));
      d.setAttribute("width", String(bw - 2));
      d.setAttribute("y", String(h - pad - ha - hd));
      d.setAttribute("height", String(hd));
      svg.appendChild(a);
      svg.appendChild(d);
      if (i % 6 === 0) {
        var t = document.createElementNS(SVG, "text");
        t.setAttribute("x", String(x));
        t.setAttribute("y", String(h - 3));
        t.textContent = new Date(p.hourMs).getHours() + ":00";
        svg.appendChild(t);
      }
    });
    var m = document.createElementNS(SVG, "text");
    m.setAttribute("x", "0");
    m.setAttribute("y", "10");
    m.textContent = "max " + max;
    svg.appendChild(m);
    return svg;
  }

  function renderDetail(data) {
    var r = data.row;
    $("detail-h").textContent = r.site + " / " + r.device;
    var dl = $("detail-fields");
    dl.replaceChildren();
    field(dl, "State", badge(r.level));
    if (r.level === "degraded") field(dl, "Fault", r.reason);
    field(dl, "Since", r.since);
    field(dl, "Last seen", ago(r.lastHeard) + (r.lastHeard ? " (" + r.lastHeard + ")" : ""));
    field(dl, "Version", r.version);
    field(dl, "Door", r.door);
    field(dl, "Outbox", r.outboxDepth === null ? null : r.outboxDepth + " rows, oldest " + age(r.outboxOldestAgeS));
    field(dl, "Status table", r.statusVersion === null ? null : "v" + r.statusVersion + ", " + age(r.statusAgeS) + " old" + (r.stale ? " (stale)" : ""));
    field(dl, "Scan p50 / p99", num(r.scanP50Ms, " ms") + " / " + num(r.scanP99Ms, " ms"));
    field(dl, "Scanner", r.scanner);
    field(dl, "Relay", r.relay);
    field(dl, "Clock", r.clockSynchronised === null ? null : r.clockSynchronised ? "synchronised" : "NOT synchronised");
    field(dl, "Last entry", r.lastEntry ? r.lastEntry.decision + " (" + r.lastEntry.reason + ") " + ago(r.lastEntry.ts) : null);
    field(dl, "Alarms", r.alarms.length ? "⚠ " + r.alarms.join(", ") : "none");
    $("chart").replaceChildren(chart(data.activity.perHour));
    var ul = $("events");
    ul.replaceChildren();
    if (data.activity.events.length === 0) {
      var li = document.createElement("li");
      li.textContent = "none seen since the dashboard started";
      ul.appendChild(li);
    }
    data.activity.events.forEach(function (e) {
      var li = document.createElement("li");
      li.textContent = (e.ts ? e.ts.replace("T", " ").replace(/\.\d+Z$/, "Z") + " " : "") + e.event + (e.detail ? ": " + e.detail : "");
      ul.appendChild(li);
    });
    var btns = $("cmd-buttons").querySelectorAll("button");
    for (var i = 0; i < btns.length; i++) btns[i].disabled = !commandsOn;
    $("cmd-off").hidden = commandsOn;
  }

  function loadDetail(key, focus) {
    var parts = key.split("/");
    fetch("/api/device/" + encodeURIComponent(parts[0]) + "/" + encodeURIComponent(parts[1]), { credentials: "same-origin" })
      .then(function (res) {
        return res.ok ? res.json() : null;
      })
      .then(function (data) {
        if (data === null || selected !== key) return;
        renderDetail(data);
        detail.hidden = false;
        if (focus) $("detail-h").focus();
      })
      .catch(function () {
        // The dashboard went away; the summary line says so.
      });
  }

  function sendCommand(op) {
    if (selected === null) return;
    var parts = selected.split("/");
    var target = selected;
    if (!confirm("Send '" + op + "' to " + target + "?\nThis will " + OPS[op] + ".")) return;
    $("cmd-result").textContent = "Sending " + op + " to " + target + "…";
    fetch("/api/command", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-qrgate-dashboard": "1" },
      body: JSON.stringify({ site: parts[0], device: parts[1], op: op }),
    })
      .then(function (res) {
        return res.json().then(function (body) {
          return { ok: res.ok, body: body };
        });
      })
      .then(function (r) {
        var text;
        if (!r.ok) text = "✕ " + op + " not sent: " + r.body.error;
        else if (r.body.silent.length > 0) text = "▲ " + op + ": no answer from " + r.body.silent.join(", ");
        else
          text = r.body.answers
            .map(function (a) {
              return (a.ok ? "✓ " : "✕ ") + a.device + ": " + op + (a.ok ? " done" : " refused: " + (a.error || "no reason given"));
            })
            .join("; ");
        $("cmd-result").textContent = text;
      })
      .catch(function (e) {
        $("cmd-result").textContent = "✕ " + op + " failed: " + e.message;
      });
  }

  // ---- interaction timing ----
  function timed(fn) {
    return function (e) {
      var t0 = e.timeStamp;
      var t1 = performance.now();
      fn(e);
      var t2 = performance.now();
      requestAnimationFrame(function () {
        var ch = new MessageChannel();
        ch.port1.onmessage = function () {
          state.interactions.push(performance.now() - t0);
          state.breakdown.push({ target: e.target.id || e.target.tagName, queuedMs: t1 - t0, handlerMs: t2 - t1, totalMs: performance.now() - t0 });
        };
        ch.port2.postMessage(0);
      });
    };
  }

  fSite.addEventListener("change", timed(applyFilters));
  fState.addEventListener("change", timed(applyFilters));
  fText.addEventListener("input", timed(applyFilters));
  fAlarms.addEventListener("change", timed(applyFilters));
  $("filters").addEventListener("submit", function (e) {
    e.preventDefault();
  });
  tbody.addEventListener(
    "click",
    timed(function (e) {
      var b = e.target.closest("button[data-key]");
      if (!b) return;
      selected = b.dataset.key;
      var row = devices.get(selected);
      if (row) {
        renderDetail({ row: row, activity: { perHour: [], events: [] } });
        detail.hidden = false;
      }
      loadDetail(selected, true);
    }),
  );
  $("more").addEventListener(
    "click",
    timed(function () {
      limit += PAGE;
      render();
    }),
  );
  $("detail-close").addEventListener("click", function () {
    selected = null;
    detail.hidden = true;
  });
  $("cmd-buttons").addEventListener("click", function (e) {
    var b = e.target.closest("button[data-op]");
    if (b && !b.disabled) sendCommand(b.dataset.op);
  });

  // "Last seen" counts on between pushes.
  setInterval(function () {
    rendered.forEach(function (k) {
      var d = made.get(k);
      if (d) setText(d.cells[3], ago(d.row.lastHeard));
    });
  }, 5000);

  var es = new EventSource("/events");
  es.onopen = function () {
    streamUp = true;
    summary();
  };
  es.onerror = function () {
    streamUp = false;
    summary();
  };
  es.addEventListener("rows", function (e) {
    streamUp = true;
    onRows(JSON.parse(e.data));
  });
})();
