package decide_test

import (
	"fmt"
	"time"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/controller/decide"
	"github.com/varco-access/varco/reader"
)

// The door loop reads the card, looks the NIS up and asks Decide. Here the
// card is not in the allowlist.
func ExampleDecide() {
	rome, _ := time.LoadLocation("Europe/Rome")
	d := decide.Decide(decide.Input{
		Grant:    nil, // no grant for this NIS
		Read:     &reader.DoorRead{NIS: "123456789012", Challenge: make([]byte, 32), Signature: make([]byte, 256)},
		Now:      time.Date(2026, 3, 10, 9, 0, 0, 0, rome),
		Location: rome,
		Mode:     varco.ModeNormal,
		Clock:    decide.ClockState{Trusted: true},
	})
	fmt.Println(d.Granted, d.Reason)
	// Output: false unknown
}
