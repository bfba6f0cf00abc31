package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/reader/pcsc"
)

func cieRead(e *env, args []string) error {
	fs := e.newFlags("cie read", "[--reader NAME] [--full --csca DIR] [--json] [--timeout D]")
	name := fs.String("reader", "", "PC/SC reader to use (default: the first reader a card is presented on)")
	full := fs.Bool("full", false, "also read EF.SOD and check it against the CSCA certificates of --csca")
	csca := fs.String("csca", "", "with --full: directory of trusted CSCA certificates (DER or PEM)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	timeout := fs.Duration("timeout", 0, "give up if no card is read within this time (default: wait until interrupted)")
	at := fs.String("at", "", "with --full: verify as of this date (YYYY-MM-DD or RFC 3339; default now)")
	verbose := fs.Bool("v", false, "print reader events to stderr")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *full && *csca == "" {
		return fmt.Errorf("%w: --full needs --csca DIR (the trusted CSCA certificates)", errUsage)
	}
	if !*full && *csca != "" {
		return fmt.Errorf("%w: --csca is only used with --full", errUsage)
	}
	o := readOptions{full: *full}
	var err error
	if o.at, err = parseTime(*at); err != nil {
		return err
	}
	if *full {
		if o.anchors, err = loadCSCAs(*csca); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	if *timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}

	type outcome struct {
		rep *readReport
		err error
	}
	var (
		once    sync.Once
		done    = make(chan outcome, 1)
		readers = map[string]bool{}
		rmu     sync.Mutex
	)
	fmt.Fprintln(e.stderr, "waiting for a card"+onReader(*name)+"...")
	mon := pcsc.NewMonitor(pcsc.Options{
		Match: func(r string) bool { return *name == "" || r == *name },
		OnCard: func(_ context.Context, readerName string, card reader.Transmitter) error {
			rep, err := readCard(card, readerName, o)
			if err != nil && isTransient(err) {
				fmt.Fprintf(e.stderr, "%s: card removed during the read (%v); present it again\n", readerName, err)
				return err
			}
			once.Do(func() {
				done <- outcome{rep, err}
				cancel()
			})
			return err
		},
		OnEvent: func(ev pcsc.Event) {
			rmu.Lock()
			switch ev.Kind {
			case pcsc.ReaderAdded:
				readers[ev.Reader] = true
			case pcsc.ReaderRemoved:
				delete(readers, ev.Reader)
			}
			rmu.Unlock()
			if *verbose || ev.Kind == pcsc.ServiceDown {
				fmt.Fprintf(e.stderr, "%s %s\n", ev.Time.Format("15:04:05.000"), ev)
			}
		},
	})
	if err := mon.Run(ctx); err != nil {
		return err
	}
	select {
	case out := <-done:
		if *asJSON {
			if err := writeJSON(e.stdout, out.rep); err != nil {
				return err
			}
		} else {
			out.rep.print(e.stdout)
		}
		if out.err != nil {
			if c := checkName(out.err); c != "" {
				return fmt.Errorf("%w: %s", errCheckFailed, c)
			}
			return out.err
		}
		return nil
	default:
	}
	rmu.Lock()
	seen := make([]string, 0, len(readers))
	for r := range readers {
		seen = append(seen, r)
	}
	rmu.Unlock()
	sort.Strings(seen)
	if e.ctx.Err() != nil {
		return fmt.Errorf("interrupted before a card was read")
	}
	return fmt.Errorf("no card read within %v%s (readers seen: %s)", *timeout, onReader(*name), listOrNone(seen))
}

func onReader(name string) string {
	if name == "" {
		return ""
	}
	return fmt.Sprintf(" on reader %q", name)
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return `"` + strings.Join(s, `", "`) + `"`
}

// isTransient reports whether a read failed because the card left the
// field, in which case the read is worth another try when it comes back.
func isTransient(err error) bool {
	return errors.Is(err, pcsc.ErrCardRemoved) || errors.Is(err, reader.ErrShortResponse)
}
