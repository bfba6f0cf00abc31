// Package fakegpio stands in for a Raspberry Pi's GPIO chip in the demo and
// the end-to-end tests of varco-door: it registers periph gpiotest pins in
// gpioreg under the names a door configuration uses, and serves an HTTP
// handler through which a test (or a person at the demo) reads the relay
// outputs and drives the door contact and request-to-exit inputs.
//
// It is selected by `gpio = "fake"` in the controller configuration and is
// never used on a real board.
package fakegpio

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

// Bank is a set of fake pins registered in gpioreg.
type Bank struct {
	mu   sync.Mutex
	pins map[string]*gpiotest.Pin
}

// Register creates a fake pin for each name and registers it in gpioreg, so
// that code looking pins up by name (gpioreg.ByName) finds them. Names
// already registered by an earlier Register are reused.
func Register(names ...string) (*Bank, error) {
	b := &Bank{pins: map[string]*gpiotest.Pin{}}
	for i, n := range names {
		if n == "" {
			continue
		}
		if p, ok := gpioreg.ByName(n).(*gpiotest.Pin); ok {
			b.pins[n] = p
			continue
		}
		p := &gpiotest.Pin{N: n, Num: 1000 + i, EdgesChan: make(chan gpio.Level, 16)}
		if err := gpioreg.Register(p); err != nil {
			return nil, fmt.Errorf("fakegpio: register %s: %w", n, err)
		}
		b.pins[n] = p
	}
	return b, nil
}

// Level returns the current level of pin name.
func (b *Bank) Level(name string) (gpio.Level, bool) {
	b.mu.Lock()
	p, ok := b.pins[name]
	b.mu.Unlock()
	if !ok {
		return gpio.Low, false
	}
	return p.Read(), true
}

// Set drives input pin name to level l, as a contact opening or a button
// being pressed would: the level changes and an edge is delivered to a
// WaitForEdge in progress.
func (b *Bank) Set(name string, l gpio.Level) error {
	b.mu.Lock()
	p, ok := b.pins[name]
	b.mu.Unlock()
	if !ok {
		return fmt.Errorf("fakegpio: no pin %q", name)
	}
	if err := p.Out(l); err != nil {
		return err
	}
	select {
	case p.EdgesChan <- l:
	default: // nobody is waiting and the buffer is full: the level is set anyway
	}
	return nil
}

// Levels returns every pin's level, "high" or "low", by name.
func (b *Bank) Levels() map[string]string {
	b.mu.Lock()
	names := make([]string, 0, len(b.pins))
	for n := range b.pins {
		names = append(names, n)
	}
	b.mu.Unlock()
	sort.Strings(names)
	out := make(map[string]string, len(names))
	for _, n := range names {
		l, _ := b.Level(n)
		out[n] = levelName(l)
	}
	return out
}

func levelName(l gpio.Level) string {
	if l {
		return "high"
	}
	return "low"
}

// Handler serves the bank: GET returns {"GPIO26":"high",...}; POST with the
// form values pin=NAME and level=high|low drives an input.
func (b *Bank) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(b.Levels())
		case http.MethodPost:
			name, level := r.FormValue("pin"), r.FormValue("level")
			var l gpio.Level
			switch level {
			case "high":
				l = gpio.High
			case "low":
				l = gpio.Low
			default:
				http.Error(w, fmt.Sprintf("level %q: want high or low", level), http.StatusBadRequest)
				return
			}
			if err := b.Set(name, l); err != nil {
				http.Error(w, err.Error(), http.StatusNotFound)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Allow", "GET, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		}
	})
}
