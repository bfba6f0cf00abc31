// Varco panel: small progressive enhancements; every page works without
// this file.
"use strict";

// Forms with data-confirm ask before they submit (unlock, lockdown,
// revoke, delete).
document.addEventListener("submit", (ev) => {
  const f = ev.target;
  if (f instanceof HTMLFormElement && f.dataset.confirm && !window.confirm(f.dataset.confirm)) {
    ev.preventDefault();
  }
});

// Varco.live(handlers) opens the panel's server-sent event stream once and
// calls handlers.door(status) and handlers.entry(event) as they come.
window.Varco = window.Varco || {};
window.Varco.live = function (handlers) {
  if (!window.EventSource) return null;
  const es = new EventSource("/live");
  for (const kind of ["door", "entry"]) {
    es.addEventListener(kind, (e) => {
      if (handlers[kind]) handlers[kind](JSON.parse(e.data));
    });
  }
  return es;
};
