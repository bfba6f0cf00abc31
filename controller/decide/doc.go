// Package decide holds the access decision of a door: a pure function from
// what the door knows at a tap (the grant for the NIS read, the card's answer
// to the challenge, the time, the door mode, the clock state, the policy) to
// a varco.Decision.
//
// Decide does no I/O, reads no clock and keeps no state: the caller (the door
// loop in package controller) looks the grant up in the store, reads the
// card, takes the time from its injected clock and logs the decision. This
// makes every reason and every boundary minute testable with tables and no
// hardware.
//
// Caveats:
//   - A deny is a decision, never an error; Decide never fails and never
//     panics.
//   - Schedules are evaluated on wall-clock minutes in the site's time zone
//     (Input.Location). On the spring-forward day a window inside the
//     skipped hour (02:00-03:00 in Europe/Rome) never opens and a window
//     across it is open one real hour less; on the fall-back day a window
//     covering the repeated hour is open during both passes. 08:00 is 08:00
//     on both sides of the change.
//   - A window cannot cross midnight (varco.Window ends at 1440 at most):
//     a night shift 22:00-06:00 is two windows, 22:00-24:00 on one day and
//     00:00-06:00 on the next. A holiday closes both halves independently,
//     by their own dates.
//   - Verifying the RSA signature dominates the cost (see BenchmarkDecide);
//     pass Input.PublicKey to skip parsing the stored key on each tap.
package decide
