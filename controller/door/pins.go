package door

import (
	"fmt"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/host/v3"
	// gpioioctl is the Linux GPIO character-device driver host.Init loads
	// on Linux; imported by name so the dependency is explicit.
	_ "periph.io/x/host/v3/gpioioctl"
)

// Pins is the hardware of one door. Relay is required; Contact and REX are
// nil when the door has no contact or no REX button.
type Pins struct {
	Relay   gpio.PinOut
	Contact gpio.PinIn
	REX     gpio.PinIn
}

// OpenPins looks the pins up by name in gpioreg. An empty contact or rex
// name means that input is not wired. The error names the missing pin and
// wraps ErrPinNotFound. OpenPins does not configure the pins: New does.
func OpenPins(relay, contact, rex string) (Pins, error) {
	var p Pins
	if relay == "" {
		return p, fmt.Errorf("door: relay pin: name is empty: %w", ErrPinNotFound)
	}
	r := gpioreg.ByName(relay)
	if r == nil {
		return p, fmt.Errorf("door: relay pin %q: %w", relay, ErrPinNotFound)
	}
	p.Relay = r
	for _, in := range []struct {
		role, name string
		dst        *gpio.PinIn
	}{
		{"contact", contact, &p.Contact},
		{"rex", rex, &p.REX},
	} {
		if in.name == "" {
			continue
		}
		pin := gpioreg.ByName(in.name)
		if pin == nil {
			return Pins{}, fmt.Errorf("door: %s pin %q: %w", in.role, in.name, ErrPinNotFound)
		}
		*in.dst = pin
	}
	return p, nil
}

// OpenHost is the production path on a Raspberry Pi: it initialises
// periph's host drivers (host.Init, which on Linux registers every line of
// every /dev/gpiochip* through the gpioioctl character-device driver, the
// one that works on the Pi 5 and on current kernels of older Pis) and then
// calls OpenPins. Pin names are the line names of the chip, such as
// "GPIO17" on Raspberry Pi OS. The user needs access to /dev/gpiochip* (the
// gpio group). It is compiled everywhere but not run in tests: there are no
// GPIO chips on a build machine.
func OpenHost(relay, contact, rex string) (Pins, error) {
	if _, err := host.Init(); err != nil {
		return Pins{}, fmt.Errorf("door: periph host init: %w", err)
	}
	return OpenPins(relay, contact, rex)
}
