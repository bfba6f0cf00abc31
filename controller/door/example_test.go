package door_test

import (
	"fmt"
	"time"

	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/controller/door"
	"github.com/varco-access/varco/controller/door/doortest"
)

// A door on fake pins and the fake clock. On a Pi, the pins come from
// door.OpenHost("GPIO17", "GPIO27", "GPIO22") and the clock is nil (the
// system clock); main defers door.HaltOnPanic(d) and calls d.Halt() when
// its signal.NotifyContext ends.
func Example() {
	relay := &gpiotest.Pin{N: "GPIO17"}
	clk := doortest.NewClock(time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC))
	d, err := door.New(door.DefaultConfig("front"), door.Pins{Relay: relay}, clk,
		func(e varco.Event) { fmt.Println(e.Door, e.Kind, e.Detail) })
	if err != nil {
		panic(err)
	}
	defer door.HaltOnPanic(d)

	d.Grant()
	fmt.Println(d.State(), relay.Read())
	clk.Advance(5 * time.Second)
	fmt.Println(d.State(), relay.Read())
	d.SetMode(varco.ModeLockdown)
	fmt.Println("grant in lockdown:", d.Grant())
	fmt.Println(d.Halt())
	// Output:
	// released High
	// locked Low
	// front mode lockdown
	// grant in lockdown: false
	// <nil>
}
