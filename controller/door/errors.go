package door

import "errors"

// ErrInvalidConfig is returned by Config.Validate and New when a field of
// the configuration is out of range; the wrapping error names the field.
var ErrInvalidConfig = errors.New("invalid door config")

// ErrPinNotFound is returned by OpenPins when a pin name is not registered
// in gpioreg; the wrapping error names the pin and its role.
var ErrPinNotFound = errors.New("gpio pin not found")

// ErrNoRelay is returned by New when Pins.Relay is nil.
var ErrNoRelay = errors.New("no relay pin")

// ErrHalted is returned by Door.SetMode after Door.Halt.
var ErrHalted = errors.New("door halted")

// ErrUnknownMode is returned by Door.SetMode for a mode it does not know.
var ErrUnknownMode = errors.New("unknown door mode")
