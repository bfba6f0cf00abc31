package pcsc_test

import (
	"context"
	"log"
	"os"
	"os/signal"

	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/reader/pcsc"
)

// A door's reader loop: every CIE presented to any reader is read once,
// events are logged, and Ctrl-C stops the loop after the read in progress.
func ExampleMonitor() {
	m := pcsc.NewMonitor(pcsc.Options{
		OnCard: func(ctx context.Context, readerName string, card reader.Transmitter) error {
			read, err := reader.ReadDoor(card, nil) // nil: a fresh random challenge
			if err != nil {
				return err // reported as a ReadFailed event; never opens the door
			}
			log.Printf("%s: NIS %s", readerName, read.NIS)
			return nil
		},
		OnEvent: func(e pcsc.Event) { log.Print(e) },
	})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := m.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
