// The kiosk page: shows what the gate pushes over Server-Sent Events (/events). It never polls and loads nothing
// from outside this device. Each result carries the instant the code arrived (entryMs, epoch ms), so the page
// records entry -> pixels in `window.qrgateKiosk.latencies` and as a Performance API measure.
"use strict";

(function () {
  var ALLOW_MS = 4000;
  var DENY_MS = 7000;
  var HOLD_MS = 3000;

  var body = document.body;
  var idle = document.getElementById("idle");
  var result = document.getElementById("result");
  var verdict = document.getElementById("verdict");
  var titleVi = document.getElementById("title-vi");
  var titleEn = document.getElementById("title-en");
  var greeting = document.getElementById("greeting");
  var next = document.getElementById("next");
  var nextVi = document.getElementById("next-vi");
  var nextEn = document.getElementById("next-en");
  var banners = document.getElementById("banners");
  var tech = document.getElementById("tech");
  var techRows = document.getElementById("tech-rows");
  var corner = document.getElementById("corner");

  var state = { latencies: [], last: null, status: null, connected: false };
  window.qrgateKiosk = state;
  var backToIdle = null;
  var streamUp = false;

  function now() {
    return performance.timeOrigin + performance.now();
  }

  function showIdle() {
    backToIdle = null;
    result.hidden = true;
    idle.hidden = false;
    body.dataset.screen = "idle";
    body.removeAttribute("data-reason");
  }

  function showResult(r) {
    var allow = r.decision === "allow";
    verdict.textContent = allow ? "✓ Được vào · Allowed" : "✕ Không được vào · Refused";
    titleVi.textContent = r.title && r.title.vi ? r.title.vi : allow ? "Mời vào" : "Không thể vào";
    titleEn.textContent = r.title && r.title.en ? r.title.en : allow ? "Please enter" : "Entry refused";
    if (allow && typeof r.name === "string" && r.name.length > 0) {
      greeting.textContent = "Xin chào " + r.name + " · Welcome";
      greeting.hidden = false;
    } else {
      greeting.textContent = "";
      greeting.hidden = true;
    }
    var n = !allow ? r.next || { vi: "Vui lòng gặp nhân viên tại bàn", en: "Please see the staff at the desk" } : null;
    if (n) {
      nextVi.textContent = n.vi;
      nextEn.textContent = n.en;
      next.hidden = false;
    } else {
      next.hidden = true;
    }
    idle.hidden = true;
    result.hidden = false;
    body.dataset.screen = allow ? "allow" : "deny";
    body.dataset.reason = String(r.reason);
    if (backToIdle !== null) clearTimeout(backToIdle);
    backToIdle = setTimeout(showIdle, allow ? ALLOW_MS : DENY_MS);
  }

  // The frame holding the change is painted after this rAF callback; a message posted from it is handled right
  // after that paint, which is when the pixels are there.
  function measure(r) {
    requestAnimationFrame(function () {
      var ch = new MessageChannel();
      ch.port1.onmessage = function () {
        var painted = now();
        var ms = painted - r.entryMs;
        state.latencies.push(ms);
        state.last = { seq: r.seq, decision: r.decision, reason: r.reason, entryToPixelsMs: ms };
        try {
          performance.measure("entry-to-pixels", { start: r.entryMs - performance.timeOrigin, end: painted - performance.timeOrigin });
        } catch {
          // An entry stamped before this page loaded has no place on its timeline; the figure above stands.
        }
      };
      ch.port2.postMessage(0);
    });
  }

  function banner(vi, en) {
    var p = document.createElement("p");
    p.className = "banner";
    p.textContent = "⚠ " + vi + " · ";
    var s = document.createElement("span");
    s.className = "en-inline";
    s.lang = "en";
    s.textContent = en;
    p.appendChild(s);
    return p;
  }

  function renderBanners() {
    var s = state.status;
    var list = [];
    if (!streamUp) list.push(banner("Đầu đọc không hoạt động", "Reader not running — please see the staff"));
    if (s && streamUp) {
      if (s.lockdown) list.push(banner("Cổng đang tạm đóng", "Gate closed (lockdown)"));
      if (s.degraded) list.push(banner("Thiết bị gặp sự cố, vui lòng gặp nhân viên", "Reader fault, please see the staff"));
      if (!s.online) list.push(banner("Mất kết nối với trung tâm, vẫn kiểm tra được", "Offline from the centre, checks continue"));
      if (s.stale) list.push(banner("Dữ liệu sức khỏe chưa được cập nhật", "Health data is out of date"));
    }
    banners.replaceChildren.apply(banners, list);
    body.dataset.banners = list.length === 0 ? "none" : String(list.length);
  }

  function row(k, v) {
    var tr = document.createElement("tr");
    var th = document.createElement("th");
    th.scope = "row";
    th.textContent = k;
    var td = document.createElement("td");
    td.textContent = v === null || v === undefined ? "—" : String(v);
    tr.appendChild(th);
    tr.appendChild(td);
    return tr;
  }

  function renderTech() {
    var s = state.status;
    var t = s ? s.tech : null;
    var rows = [];
    if (t) {
      rows.push(row("Device", t.site + " / " + t.device + " (" + t.door + ")"));
      rows.push(row("Version", t.version));
      rows.push(row("Broker", t.broker));
      rows.push(row("Last sync", t.lastSync ? t.lastSync + " (v" + t.statusVersion + ")" : "never"));
      rows.push(row("Scanner", t.scanner));
      rows.push(row("Relay", t.relay));
      rows.push(row("Door contact", t.doorContact === null || t.doorContact === undefined ? "none configured" : t.doorContact));
      rows.push(row("Mode", s.lockdown ? "lockdown" : "normal"));
      rows.push(row("Fault", s.degraded));
    }
    rows.push(row("Event stream", streamUp ? "connected" : "down"));
    var l = state.last;
    rows.push(row("Last entry → pixels", l ? l.entryToPixelsMs.toFixed(1) + " ms" : null));
    techRows.replaceChildren.apply(techRows, rows);
  }

  function toggleTech() {
    tech.hidden = !tech.hidden;
    if (!tech.hidden) renderTech();
  }

  document.addEventListener("keydown", function (e) {
    if (e.key === "t" || e.key === "T") toggleTech();
    if (e.key === "Escape" && !tech.hidden) toggleTech();
  });
  var hold = null;
  function cancelHold() {
    if (hold !== null) clearTimeout(hold);
    hold = null;
  }
  corner.addEventListener("pointerdown", function () {
    cancelHold();
    hold = setTimeout(toggleTech, HOLD_MS);
  });
  corner.addEventListener("pointerup", cancelHold);
  corner.addEventListener("pointerleave", cancelHold);
  tech.addEventListener("pointerdown", function () {
    cancelHold();
    hold = setTimeout(toggleTech, HOLD_MS);
  });
  tech.addEventListener("pointerup", cancelHold);

  var es = new EventSource("/events");
  es.onopen = function () {
    streamUp = true;
    state.connected = true;
    renderBanners();
  };
  es.onerror = function () {
    streamUp = false;
    state.connected = false;
    renderBanners();
    if (!tech.hidden) renderTech();
  };
  es.addEventListener("status", function (e) {
    streamUp = true;
    state.connected = true;
    state.status = JSON.parse(e.data);
    renderBanners();
    if (!tech.hidden) renderTech();
  });
  es.addEventListener("result", function (e) {
    var r = JSON.parse(e.data);
    showResult(r);
    measure(r);
  });
  renderBanners();
})();
