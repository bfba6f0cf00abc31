package virtcie

import "errors"

// Errors of the virtcie package. They are wrapped with context (the bad
// item, the field, the file); check them with errors.Is.
var (
	// ErrOptions is returned by New when Options are incomplete or invalid
	// (NIS not 12 digits, unknown generation, no PKI).
	ErrOptions = errors.New("virtcie: invalid options")

	// ErrQuirk is returned when a quirk list does not parse; the message
	// names the bad item.
	ErrQuirk = errors.New("virtcie: invalid quirk")

	// ErrNegative is returned when a negative-card name is unknown.
	ErrNegative = errors.New("virtcie: unknown negative card")

	// ErrCardFile is returned when a card file cannot be loaded; the message
	// names the file and the field.
	ErrCardFile = errors.New("virtcie: invalid card file")
)
