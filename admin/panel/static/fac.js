// Varco panel, facilities: live door status and entry feed (doors
// pages), and the visual week bar of the schedule editor. Every page
// works without this file.
"use strict";

(() => {
  // Live door status: elements keyed by data-door="<controller id>",
  // fields by data-field.
  const doorEls = document.querySelectorAll("[data-door]");
  const feed = document.getElementById("fac-feed");

  const setField = (root, name, text, cls) => {
    const el = root.querySelector('[data-field="' + name + '"]');
    if (!el) return;
    el.textContent = text;
    if (cls !== undefined) el.className = cls;
  };

  const onDoor = (st) => {
    for (const root of doorEls) {
      if (root.dataset.door !== st.door) continue;
      const link = root.querySelector('[data-field="online"]');
      if (link) {
        const span = document.createElement("span");
        span.className = st.online ? "online" : "offline";
        span.textContent = st.online ? link.dataset.labelOnline : link.dataset.labelOffline;
        link.replaceChildren(span);
      }
      setField(root, "state", st.state_text, st.state || "");
      setField(root, "mode", st.mode_text);
      const adminRev = root.dataset.adminRev || "";
      setField(root, "rev", st.rev + " / " + adminRev, String(st.rev) === adminRev ? "ok" : "warn");
      setField(root, "outbox", String(st.outbox));
      setField(root, "seen", st.seen);
    }
  };

  const onEntry = (ev) => {
    if (!feed) return;
    const empty = feed.querySelector(".fac-empty");
    if (empty) empty.remove();
    const tr = document.createElement("tr");
    tr.className = ev.kind;
    const cells = [ev.time, ev.door_name || ev.door, ev.person || "", ev.kind_text, ev.reason_text || ""];
    for (const text of cells) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.appendChild(td);
    }
    feed.prepend(tr);
    const max = parseInt(feed.dataset.max || "50", 10);
    while (feed.rows.length > max) feed.deleteRow(feed.rows.length - 1);
  };

  if ((doorEls.length || feed) && window.Varco && window.Varco.live) {
    const es = window.Varco.live({ door: onDoor, entry: onEntry });
    const badge = document.querySelector("[data-live-badge]");
    if (es && badge) es.addEventListener("open", () => { badge.hidden = false; });
  }

  // Schedule editor: a bar per weekday drawn from its text field, kept in
  // step as the field changes.
  const clock = (s) => {
    const m = /^\s*(\d{1,2}):(\d{2})\s*$/.exec(s);
    if (!m) return NaN;
    const v = parseInt(m[1], 10) * 60 + parseInt(m[2], 10);
    return parseInt(m[2], 10) < 60 && v <= 1440 ? v : NaN;
  };
  const windows = (text) => {
    const out = [];
    for (const part of text.split(/[,;]/)) {
      if (!part.trim()) continue;
      const [a, b] = part.split("-");
      const s = clock(a || ""), e = clock(b || "");
      if (isNaN(s) || isNaN(e) || e <= s) return null;
      out.push([s, e]);
    }
    return out;
  };
  for (const input of document.querySelectorAll("input[data-day]")) {
    const bar = document.createElement("div");
    bar.className = "fac-weekbar";
    bar.setAttribute("aria-hidden", "true");
    const draw = () => {
      bar.replaceChildren();
      const ws = windows(input.value);
      bar.classList.toggle("invalid", ws === null);
      for (const [s, e] of ws || []) {
        const seg = document.createElement("span");
        seg.style.left = (s / 14.4) + "%";
        seg.style.width = ((e - s) / 14.4) + "%";
        seg.title = input.value;
        bar.appendChild(seg);
      }
    };
    input.insertAdjacentElement("afterend", bar);
    input.addEventListener("input", draw);
    draw();
  }
})();
