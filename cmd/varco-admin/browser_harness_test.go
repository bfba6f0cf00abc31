package main

// The browser of the panel's browser tests (browser_test.go): Debian's
// Chromium driven by chromedp over its DevTools pipe, headless, one
// browser context (own cookies, like a separate browser profile) per
// signed-in user, full-page screenshots saved as test artefacts.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// chromiumPackage is the Debian package the browser tests drive (make
// test installs it: PKGS_TEST in the Makefile).
const chromiumPackage = "chromium"

// viewport is the browser window of every page and screenshot: a laptop.
const viewportW, viewportH = 1280, 800

// findChromium is the Chromium binary: $VARCO_CHROMIUM, else chromium on
// PATH. Without one the test is skipped with the command that installs
// it, or fails under CI=true (where make test has installed it).
func findChromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("VARCO_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "browser tests need Chromium: sudo apt-get update && sudo apt-get install -y " + chromiumPackage
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// artefactDir is where screenshots go: $VARCO_ARTEFACTS, else
// testdata/screenshots-out (git-ignored).
func artefactDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("VARCO_ARTEFACTS")
	if dir == "" {
		dir = filepath.Join("testdata", "screenshots-out")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		t.Fatal(err)
	}
	return abs
}

// chromium is one headless browser process for a test.
type chromium struct {
	t      *testing.T
	ctx    context.Context // the browser's first tab; users get their own contexts
	base   string          // the panel's http://127.0.0.1:port
	shots  string          // artefact directory
	logged strings.Builder // the browser's own output, shown on failure
}

// startChromium starts Chromium for base; it is stopped when the test
// ends.
func startChromium(t *testing.T, base string) *chromium {
	t.Helper()
	bin := findChromium(t)
	b := &chromium{t: t, base: base, shots: artefactDir(t)}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.WindowSize(viewportW, viewportH),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.DisableGPU,
		// An Italian browser: the panel's default language, asked for
		// (headless Chromium would say en-US). Date inputs keep the
		// en-US format: Debian's chromium carries that locale alone
		// (chromium-l10n has the others).
		chromedp.Flag("accept-lang", "it-IT,it"),
	)
	if os.Geteuid() == 0 {
		// Chromium's sandbox refuses to run as root.
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(func(f string, a ...any) {
		fmt.Fprintf(&b.logged, f+"\n", a...)
	}))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		if t.Failed() && b.logged.Len() > 0 {
			t.Logf("chromedp errors:\n%s", b.logged.String())
		}
	})
	// The first Do starts the browser, bound to ctx (no timeout here:
	// a timeout would end the browser with it).
	start := time.Now()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Logf("chromium started in %v", time.Since(start).Round(time.Millisecond))
	b.ctx = ctx
	return b
}

// user is one person at the panel: a tab in its own browser context, so
// that each has their own session cookie.
type user struct {
	t    *testing.T
	b    *chromium
	name string
	ctx  context.Context

	mu     sync.Mutex
	dialog []string // messages of the dialogs accepted so far
}

// dialogs returns the messages of the JavaScript dialogs accepted so far.
func (u *user) dialogs() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.dialog)
}

// newUser opens a tab in a fresh browser context; JavaScript dialogs
// (the panel's data-confirm) are accepted and recorded.
func (b *chromium) newUser(t *testing.T, name string) *user {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	u := &user{t: t, b: b, name: name, ctx: ctx}
	// The first Do opens the tab, bound to ctx: no timeout here either.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("%s: open a tab: %v", name, err)
	}
	u.do(chromedp.EmulateViewport(viewportW, viewportH))
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			t.Logf("%s: dialog %q accepted", name, ev.Message)
			u.mu.Lock()
			u.dialog = append(u.dialog, ev.Message)
			u.mu.Unlock()
			if _, err := chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true}); err != nil {
				t.Logf("%s: accept dialog: %v", name, err)
			}
		}
	}()
	return u
}

// act runs one action with the hang guard and fails the test on error.
func act[T any](u *user, what string, a chromedp.Action[T]) T {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, hangGuard)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		u.t.Fatalf("%s: %s: %v (at %s)", u.name, what, err, u.location())
	}
	return v
}

// do runs actions with no value in order.
func (u *user) do(actions ...chromedp.Action[chromedp.Void]) {
	u.t.Helper()
	act(u, "actions", chromedp.Steps(actions...))
}

// location is the tab's URL, for messages ("?" when unknown).
func (u *user) location() string {
	ctx, cancel := context.WithTimeout(u.ctx, 2*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "?"
	}
	return loc
}

// open loads path and returns the HTTP status of the page.
func (u *user) open(path string) int64 {
	u.t.Helper()
	resp := act(u, "open "+path, chromedp.NavigateResponse(u.b.base+path))
	return resp.Status
}

// mustOpen loads path and fails unless it answers 200.
func (u *user) mustOpen(path string) {
	u.t.Helper()
	if code := u.open(path); code != 200 {
		u.t.Fatalf("%s: GET %s = %d, want 200; page text:\n%s", u.name, path, code, u.text("main"))
	}
}

// submit clicks sel (a submit button, or a link) and waits for the page
// it loads; it returns the HTTP status of that page.
func (u *user) submit(sel string) int64 {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, hangGuard)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		u.t.Fatalf("%s: click %s: %v (at %s)", u.name, sel, err, u.location())
	}
	return resp.Status
}

// fill types value into the field sel, replacing what it held.
func (u *user) fill(sel, value string) {
	u.t.Helper()
	u.do(chromedp.Clear(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), value))
}

// text is the visible text of the first element matching sel.
func (u *user) text(sel string) string {
	u.t.Helper()
	return act(u, "text of "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// has reports whether sel matches an element now (no waiting).
func (u *user) has(sel string) bool {
	u.t.Helper()
	b, _ := json.Marshal(sel)
	return act(u, "query "+sel, chromedp.Evaluate[bool](fmt.Sprintf("document.querySelector(%s) !== null", b)))
}

// count is how many elements match sel now.
func (u *user) count(sel string) int {
	u.t.Helper()
	b, _ := json.Marshal(sel)
	return act(u, "count "+sel, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%s).length", b)))
}

// waitText waits until the text of the page's main element contains
// want, without reloading (live updates).
func (u *user) waitText(sel, want string) {
	u.t.Helper()
	s, _ := json.Marshal(sel)
	w, _ := json.Marshal(want)
	expr := fmt.Sprintf("(() => { const e = document.querySelector(%s); return e !== null && e.innerText.includes(%s); })()", s, w)
	ctx, cancel := context.WithTimeout(u.ctx, hangGuard)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(hangGuard))); err != nil {
		u.t.Fatalf("%s: waiting for %q in %s: %v; it shows:\n%s", u.name, want, sel, err, u.pageText(sel))
	}
}

// waitFor waits until sel matches an element, without reloading.
func (u *user) waitFor(sel string) {
	u.t.Helper()
	s, _ := json.Marshal(sel)
	ctx, cancel := context.WithTimeout(u.ctx, hangGuard)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](fmt.Sprintf("document.querySelector(%s) !== null", s),
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(hangGuard))); err != nil {
		u.t.Fatalf("%s: waiting for %s: %v; the page shows:\n%s", u.name, sel, err, u.pageText("main"))
	}
}

// pageText is the text of sel for failure messages, without failing.
func (u *user) pageText(sel string) string {
	ctx, cancel := context.WithTimeout(u.ctx, 5*time.Second)
	defer cancel()
	s, _ := json.Marshal(sel)
	txt, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf("(() => { const e = document.querySelector(%s); return e ? e.innerText : '(no ' + %s + ')'; })()", s, s)))
	if err != nil {
		return err.Error()
	}
	return txt
}

// fetch requests path from the page, with the browser's cookies, and
// returns the status, the Content-Type and the body.
func (u *user) fetch(path string) (int, string, string) {
	u.t.Helper()
	p, _ := json.Marshal(path)
	var res struct {
		Status int    `json:"status"`
		Type   string `json:"type"`
		Body   string `json:"body"`
	}
	raw := act(u, "fetch "+path, chromedp.Evaluate[[]byte](fmt.Sprintf(
		`fetch(%s, {credentials: "same-origin"}).then(async r => ({status: r.status, type: r.headers.get("Content-Type") || "", body: await r.text()}))`, p),
		chromedp.EvalAwaitPromise, chromedp.EvalAsValue))
	if err := json.Unmarshal(raw, &res); err != nil {
		u.t.Fatalf("%s: fetch %s: %v (%s)", u.name, path, err, raw)
	}
	return res.Status, res.Type, res.Body
}

// login signs in through the login form and checks that the panel let
// the user in.
func (u *user) login(username, password string) {
	u.t.Helper()
	u.mustOpen("/login")
	u.fill(`form[action="/login"] input[name="username"]`, username)
	u.fill(`form[action="/login"] input[name="password"]`, password)
	if code := u.submit(`form[action="/login"] button[type="submit"]`); code != 200 {
		u.t.Fatalf("%s: login as %s: status %d:\n%s", u.name, username, code, u.pageText("main"))
	}
	if u.has(`form[action="/login"]`) || !u.has(`form[action="/logout"]`) {
		u.t.Fatalf("%s: still not signed in as %s at %s:\n%s", u.name, username, u.location(), u.pageText("main"))
	}
}

// docShots are the screenshots the README shows (docs/screenshots/*.png,
// the first 1280×800 screen of the page), rewritten by a run with
// VARCO_DOCS_SCREENSHOTS=1.
var docShots = map[string]bool{"people": true, "enrol-result": true, "doors-lockdown": true, "events": true}

// shot saves a full-page PNG of the tab as <name>.png in the artefact
// directory, and the first screen (the 1280×800 viewport) as
// <name>-screen.png.
func (u *user) shot(name string) {
	u.t.Helper()
	full := act(u, "screenshot "+name, chromedp.FullScreenshot(100))
	screen := act(u, "screenshot "+name, chromedp.CaptureScreenshot())
	files := map[string][]byte{filepath.Join(u.b.shots, name+".png"): full, filepath.Join(u.b.shots, name+"-screen.png"): screen}
	if docShots[name] && os.Getenv("VARCO_DOCS_SCREENSHOTS") == "1" {
		files[filepath.Join("..", "..", "docs", "screenshots", name+".png")] = screen
	}
	for p, b := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			u.t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			u.t.Fatal(err)
		}
	}
	u.t.Logf("screenshot %s", filepath.Join(u.b.shots, name+".png"))
}

// setFile puts the file at path into the file input sel.
func (u *user) setFile(sel, path string) {
	u.t.Helper()
	u.do(chromedp.SetUploadFiles(chromedp.CSS(sel), []string{path}, chromedp.NodeReady))
}

// setValue sets the value of the field sel (an input or a select) as a
// person choosing it would, with input and change events, and fails if
// the field does not take it (a select without that option).
func (u *user) setValue(sel, value string) {
	u.t.Helper()
	u.waitFor(sel)
	s, _ := json.Marshal(sel)
	v, _ := json.Marshal(value)
	got := act(u, "set "+sel, chromedp.Evaluate[string](fmt.Sprintf(`(() => {
		const e = document.querySelector(%s);
		e.value = %s;
		e.dispatchEvent(new Event("input", {bubbles: true}));
		e.dispatchEvent(new Event("change", {bubbles: true}));
		return e.value;
	})()`, s, v)))
	if got != value {
		u.t.Fatalf("%s: %s does not take the value %q (it holds %q); the form:\n%s", u.name, sel, value, got, u.pageText("main"))
	}
}

// check ticks the checkbox sel (a click, as a person does) and fails
// unless it ends up ticked.
func (u *user) check(sel string) {
	u.t.Helper()
	s, _ := json.Marshal(sel)
	if !act(u, "read "+sel, chromedp.Evaluate[bool](fmt.Sprintf("document.querySelector(%s).checked", s))) {
		u.do(chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
	}
	if !act(u, "read "+sel, chromedp.Evaluate[bool](fmt.Sprintf("document.querySelector(%s).checked", s))) {
		u.t.Fatalf("%s: %s is not ticked after a click", u.name, sel)
	}
}

// selectValue is setValue for a select: the option with that value.
func (u *user) selectValue(sel, value string) { u.t.Helper(); u.setValue(sel, value) }

// attr is the attribute name of the first element matching sel, which
// must exist.
func (u *user) attr(sel, name string) string {
	u.t.Helper()
	u.waitFor(sel)
	r := act(u, "attribute "+name+" of "+sel, chromedp.AttributeValue(chromedp.CSS(sel), name))
	if !r.Exists {
		u.t.Fatalf("%s: %s has no %s", u.name, sel, name)
	}
	return r.Value
}

// mark tags the page's window; checkMark fails if the tag is gone, which
// means the page was reloaded or left (live updates must arrive without
// either).
func (u *user) mark() {
	u.t.Helper()
	act(u, "mark the page", chromedp.Evaluate[chromedp.Void](`window.varcoTestMark = true`))
}

func (u *user) checkMark(what string) {
	u.t.Helper()
	if !act(u, "check the mark", chromedp.Evaluate[bool](`window.varcoTestMark === true`)) {
		u.t.Errorf("%s: %s came with a reload or a new page (at %s), not live", u.name, what, u.location())
	}
}
