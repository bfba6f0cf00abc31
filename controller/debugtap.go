package controller

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/reader/virtcie"
)

// maxDebugTaps bounds one /debug/tap request.
const maxDebugTaps = 100_000

// debugTapResult is the reply of /debug/tap.
type debugTapResult struct {
	Door       string               `json:"door"`
	Taps       int                  `json:"taps"`
	Granted    int                  `json:"granted"`
	Denied     map[varco.Reason]int `json:"denied,omitempty"`
	ReadErrors int                  `json:"read_errors"`
	Elapsed    float64              `json:"elapsed_seconds"`
	LastError  string               `json:"last_error,omitempty"`
}

// debugTap serves POST /debug/tap?door=ID&count=N on a controller with fake
// GPIO (the demo and the end-to-end tests, never a real door): the body is
// a virtual card file (virtcie, as `varco card new` writes it), and the card
// is presented to the door's tap handler count times (default 1), one after
// the other. Each presentation is a whole tap but for PC/SC: the APDU
// exchange with the card (its RSA signature over a fresh challenge
// included), the allowlist lookup and decision, the relay and the outbox
// append. A presentation over pcscd and vpcd takes some 0.4 s of card
// insertion polling; this one takes milliseconds, which is what makes
// ten thousand taps in a test affordable.
func (c *Controller) debugTap() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("door")
		u, ok := c.byID[id]
		if !ok {
			http.Error(w, fmt.Sprintf("door %q: not configured here", id), http.StatusNotFound)
			return
		}
		count := 1
		if s := r.URL.Query().Get("count"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > maxDebugTaps {
				http.Error(w, fmt.Sprintf("count %q: want a number from 1 to %d", s, maxDebugTaps), http.StatusBadRequest)
				return
			}
			count = n
		}
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "card file: "+err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		card, err := virtcie.Parse("request body", b)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		res := debugTapResult{Door: id, Denied: map[varco.Reason]int{}}
		start := time.Now()
		for range count {
			if r.Context().Err() != nil {
				break
			}
			card.Reset() // a fresh presentation: the card is powered anew
			dec, err := c.decideTap(u, card)
			res.Taps++
			switch {
			case dec.Granted:
				res.Granted++
			default:
				res.Denied[dec.Reason]++
			}
			if err != nil {
				res.ReadErrors++
				res.LastError = err.Error()
			}
		}
		res.Elapsed = time.Since(start).Seconds()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(res)
	})
}
