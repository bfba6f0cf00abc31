package mqttsync_test

import (
	"testing"

	"github.com/varco-access/varco/wire"
)

// FuzzHandle feeds arbitrary messages on every admin-to-door topic of a
// session: it must never panic, and the store's invariants must hold at
// the end (storetest checks them). Seeded with the golden messages, each
// on its own topic and on the others. Each input gets a new store (at
// revision 41, where the golden delta applies) and a session that is not
// running: state carried from input to input, or the loop's goroutines,
// would make the coverage the fuzzer sees wander; the handler needs
// neither.
func FuzzHandle(f *testing.F) {
	var kinds []wire.Kind
	for _, k := range wire.Kinds() {
		if k.FromAdmin() {
			kinds = append(kinds, k)
		}
	}
	for _, name := range []string{"grants.json", "head.json", "snapshot-0.json", "snapshot-1.json", "ack.json", "cmd.json", "enroll.json"} {
		msg := golden(f, name)
		for i := range kinds {
			f.Add(uint8(i), msg)
		}
	}
	f.Add(uint8(0), []byte(`{"v":"1.0","kind":"grants","site":"demo","door":"demo-1","body":{},"sig":""}`))
	f.Add(uint8(0), []byte(`null`))

	f.Fuzz(func(t *testing.T, kind uint8, msg []byte) {
		h := newHarness(t, nil)
		h.snapshotAt(41)
		h.deliver(kinds[int(kind)%len(kinds)], msg)
	})
}
