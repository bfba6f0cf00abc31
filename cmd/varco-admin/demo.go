package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// demoManifest is the file .ci/demo.sh writes in the demo directory
// (`varco tap` reads it too): the demo's doors and virtual cards, and the
// varco binary that taps them.
const demoManifest = "demo.json"

// demoTapTimeout bounds one tap: a presentation over pcscd, at most two
// when pcscd misses the first.
const demoTapTimeout = 30 * time.Second

// demo is the panel's panel.Demo in demo mode: it lists what the demo's
// manifest names and taps by running `varco tap`, the same command a
// newcomer types, so the card goes through pcscd and the door's reader
// exactly as from the terminal.
type demo struct {
	dir string
	// varco is the varco binary when the manifest names none: the one
	// beside varco-admin, or on PATH.
	varco string
	mu    sync.Mutex // one tap at a time: a vpcd reader holds one card
}

// demoFile is what the demo page reads of the manifest.
type demoFile struct {
	Varco string `json:"varco"`
	Doors []struct {
		Name  string `json:"name"`
		Title string `json:"title"` // shown (and tapped) when set: `varco tap --door` takes either
	} `json:"doors"`
	Cards []struct {
		Name string `json:"name"`
	} `json:"cards"`
}

func newDemo(dir string) *demo {
	d := &demo{dir: dir, varco: "varco"}
	if exe, err := os.Executable(); err == nil {
		if p := filepath.Join(filepath.Dir(exe), "varco"); isFile(p) {
			d.varco = p
		}
	}
	return d
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// manifest reads the manifest at every call: the demo writes it after
// varco-admin has started. A missing or bad one lists nothing.
func (d *demo) manifest() (demoFile, error) {
	var f demoFile
	b, err := os.ReadFile(filepath.Join(d.dir, demoManifest))
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("%s: %v", filepath.Join(d.dir, demoManifest), err)
	}
	return f, nil
}

func (d *demo) Cards() []string {
	f, _ := d.manifest()
	var out []string
	for _, c := range f.Cards {
		out = append(out, c.Name)
	}
	return out
}

// Doors are the doors' titles ("Ingresso"), or names without one.
func (d *demo) Doors() []string {
	f, _ := d.manifest()
	var out []string
	for _, x := range f.Doors {
		if x.Title != "" {
			out = append(out, x.Title)
		} else {
			out = append(out, x.Name)
		}
	}
	return out
}

// Tap taps card at door with `varco tap --json` and returns the door's
// decision: "granted", a deny reason ("unknown", "clone_suspected", ...),
// "desk" for a card read at the enrolment desk (the verdict is on the
// enrolment page), or "presented" when the door's counters could not be
// read.
func (d *demo) Tap(ctx context.Context, door, card string) (string, error) {
	f, err := d.manifest()
	if err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	if !slices.Contains(d.Doors(), door) || !slices.Contains(d.Cards(), card) {
		return "", fmt.Errorf("demo: no door %q or card %q in %s", door, card, demoManifest)
	}
	bin := f.Varco
	if bin == "" {
		bin = d.varco
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, demoTapTimeout)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "tap", "--demo-dir", d.dir, "--door", door, "--card", card, "--json")
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", errors.New(msg)
	}
	var res struct {
		Result string `json:"result"`
		Reason string `json:"reason"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return "", fmt.Errorf("varco tap: %q: %v", out.String(), err)
	}
	switch {
	case res.Result == "granted":
		return "granted", nil
	case res.Reason != "":
		return res.Reason, nil
	case res.Detail != "":
		return "desk", nil
	}
	return "presented", nil
}
