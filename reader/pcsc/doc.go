// Package pcsc reads cards through PC/SC (pcscd on Linux) with
// github.com/ebfe/scard, which needs cgo and libpcsclite.
//
// Card adapts a connected scard.Card to reader.Transmitter, turning the
// errors of a card that left the field into ErrCardRemoved and a response
// without status bytes into reader.ErrShortResponse.
//
// Monitor is the reader loop of a door or an enrolment station: it waits on
// SCardGetStatusChange (including the \\?PnP?\Notification pseudo-reader for
// readers coming and going), connects to each card presented, exclusively,
// hands it to Options.OnCard, and reads it once per presentation. It reports
// what happens as Events and survives readers being unplugged and pcscd
// being killed and restarted, re-establishing its context with a bounded
// exponential back-off.
//
// Caveats:
//
//   - pcsc-lite serialises the calls made on one PC/SC context, and
//     SCardGetStatusChange holds its context for as long as it waits. The
//     Monitor therefore uses one context to watch and a fresh context for
//     each card read.
//   - A card is "read once per presentation": after a read, the same reader
//     is read again only once the card has been seen absent or pcscd's
//     insertion counter (the upper 16 bits of the event state) has moved.
//     After pcscd restarts, counters start again and every CIE has the same
//     ATR, so a card left on a reader across a pcscd restart is read again.
//   - With pcscd and vpcd, a card taken away in the middle of a command
//     makes SCardTransmit succeed with an empty response (seen as
//     reader.ErrShortResponse); the next command fails with
//     SCARD_E_NOT_TRANSACTED, and the reset on disconnect fails. pcscd
//     reports the removal at its next presence poll, except when another
//     card has reached vpcd by then: vpcd swaps it in, pcscd reports no
//     change, and the Monitor only sees the reader (wrongly) empty when its
//     wait times out (5 s). This was seen with vpcd; real readers untested.
package pcsc
