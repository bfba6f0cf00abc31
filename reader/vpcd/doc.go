// Package vpcd connects a virtual smart card to pcscd through the vpcd
// reader driver of the vsmartcard project (Debian package vsmartcard-vpcd).
//
// vpcd is a pcscd driver that listens on TCP, one port per virtual reader
// (35963 and 35964 by default; CHANNELID and CHANNELID+1 in its reader.conf
// entry). A virtual card is the TCP client: connecting puts the card in the
// reader's field and closing the connection takes it out. Every message in
// both directions is a frame: a 2-byte big-endian length followed by that
// many bytes of payload. A 1-byte payload from vpcd is a control message
// (power off, power on, reset, get ATR); anything longer is a command APDU.
// The card answers get ATR and every command APDU with one frame, and
// answers nothing to power off, power on and reset.
//
// Dial connects a Card to a vpcd port and Conn.Serve answers vpcd until the
// context ends or either side closes; Conn.Close takes the card out of the
// field at any moment, also in the middle of a command, which is how tests
// model a card leaving the field.
//
// Caveats: pcscd polls vpcd for card presence (every few hundred
// milliseconds vpcd asks for the ATR), so a card shows up and disappears in
// PC/SC with that latency, and the Card sees many get-ATR messages that are
// not tied to any client activity. Without TCP_NODELAY and TCP_QUICKACK on
// the card's socket every APDU costs about 40 ms of delayed ACK; Dial sets
// both (quick ACK is Linux-only and re-armed after every read, as the kernel
// clears it).
package vpcd
