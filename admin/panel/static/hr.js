// Varco panel, HR pages: upload progress for the CSV import and the live
// result of an enrolment session. Both pages work without this file.
"use strict";

(() => {
  // CSV import: upload with XMLHttpRequest to show a progress bar, then
  // go to the preview the server made (it answers {"redirect": url}).
  const form = document.getElementById("import-form");
  if (form && window.XMLHttpRequest && window.FormData) {
    form.addEventListener("submit", (ev) => {
      if (ev.defaultPrevented) return;
      ev.preventDefault();
      const box = document.getElementById("import-progress");
      const bar = document.getElementById("import-bar");
      const button = form.querySelector("button[type=submit]");
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      // The token as a header lets the server bound the upload before
      // it reads the body.
      const tok = form.querySelector("input[name=csrf_token]");
      if (tok) xhr.setRequestHeader("X-CSRF-Token", tok.value);
      xhr.upload.addEventListener("progress", (e) => {
        if (e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 100);
        else bar.removeAttribute("value");
      });
      xhr.addEventListener("load", () => {
        let next = null;
        try { next = JSON.parse(xhr.responseText).redirect; } catch (_) { /* an HTML page */ }
        if (xhr.status === 200 && typeof next === "string" && next.startsWith("/")) {
          window.location.assign(next);
          return;
        }
        // A page with an error (file missing, too large): show it.
        document.open();
        document.write(xhr.responseText);
        document.close();
      });
      xhr.addEventListener("error", () => { button.disabled = false; box.hidden = true; form.submit(); });
      box.hidden = false;
      button.disabled = true;
      xhr.send(new FormData(form));
    });
  }

  // Enrolment session: long-poll the result and fill it in.
  const sec = document.getElementById("enrol-session");
  if (!sec || sec.dataset.state !== "waiting" || !window.fetch) return;
  const id = sec.dataset.session;
  const show = (v) => {
    sec.dataset.state = v.state;
    for (const el of sec.querySelectorAll("[data-f]")) {
      const val = v[el.dataset.f];
      if (val !== undefined) el.textContent = val;
    }
    for (const el of sec.querySelectorAll("[data-show]")) {
      el.hidden = !el.dataset.show.split(" ").includes(v.state);
    }
    for (const el of sec.querySelectorAll("[data-show-if]")) {
      el.hidden = !v[el.dataset.showIf];
    }
  };
  const poll = async () => {
    for (let failures = 0; failures < 5;) {
      try {
        const r = await fetch("/enrol/" + encodeURIComponent(id) + "/result?wait=1", { headers: { Accept: "application/json" }, credentials: "same-origin" });
        if (!r.ok) throw new Error(String(r.status));
        const v = await r.json();
        failures = 0;
        if (v.state !== "waiting") {
          show(v);
          return;
        }
      } catch (_) {
        failures++;
        await new Promise((res) => setTimeout(res, 2000));
      }
    }
  };
  poll();
})();
