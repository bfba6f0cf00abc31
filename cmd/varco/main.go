// Command varco is Varco's command-line tool: virtual CIE cards for tests
// and demos, reading a CIE from a local reader, offline verification of
// an EF.SOD, provisioning the MQTT certificates of doors and enrolment
// stations, and the enrolment station itself.
//
// Usage:
//
//	varco card pki -out DIR
//	varco card new --nis N --gen 2016|2022 [--negative NAME] [--quirks LIST] -out FILE
//	varco card serve --card FILE [--vpcd ADDR] [--quirks LIST]
//	varco card allowlist --door ID [--rev N] -out FILE CARD-FILE...
//	varco cie read [--reader NAME] [--full] [--csca DIR] [--json]
//	varco cie verify-sod --csca DIR [--nis N] [--pubkey FILE] [--json] FILE
//	varco door provision --data-dir DIR --door ID [--broker URL] [--site S] [--force] -out DIR
//	varco station provision --data-dir DIR --station ID [--broker URL] [--site S] [--force] -out DIR
//	varco tap --door NAME --card NAME [--demo-dir DIR] [--json]
//	varco enroll --broker URL --cert FILE --key FILE [--ca FILE] [--site-key FILE] [--site S] [--station ID] [--reader NAME]
//
// varco enroll is an enrolment station (a workstation with a USB reader):
// it connects to the site's MQTT broker with the station's certificate,
// and for every enrolment session HR opens in varco-admin for this
// station it checks the admin's signed challenge, waits for a CIE on the
// reader, reads NIS, public key and EF.SOD, has the card sign the
// challenge and sends all of it back; varco-admin verifies it and stores
// the card. It runs until interrupted.
//
// Every command has -h. Exit status: 0 success, 1 a check failed or the
// operation failed, 2 bad usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// errUsage marks an error caused by the command line; run prints the
// command's usage after it.
var errUsage = errors.New("usage")

// env is what a command runs with; tests build one with buffers.
type env struct {
	ctx    context.Context
	stdout io.Writer
	stderr io.Writer
}

type command struct {
	name    string
	summary string
	run     func(e *env, args []string) error
}

func commands() []command {
	return []command{
		{"card pki", "generate a test PKI (CSCA, document signers, rogue CSCA)", cardPKI},
		{"card new", "create a virtual CIE card file", cardNew},
		{"card serve", "connect a virtual CIE to pcscd's vpcd reader", cardServe},
		{"card allowlist", "write a door allowlist file granting virtual cards", cardAllowlist},
		{"cie read", "read a CIE from a PC/SC reader and verify it", cieRead},
		{"cie verify-sod", "passive authentication of an EF.SOD file", cieVerifySOD},
		{"door provision", "issue a door's MQTT certificate from varco-admin's site CA", doorProvision},
		{"station provision", "issue an enrolment station's MQTT certificate from varco-admin's site CA", stationProvision},
		{"tap", "tap a demo card at a demo door ('make run'), over pcscd", tap},
		{"enroll", "be an enrolment station: read the CIE HR asks for, answering varco-admin's challenge", enroll},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "varco: Varco's command-line tool (CIE cards, readers, verification, doors, enrolment)")
	fmt.Fprintln(w, "\nUsage:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  varco %-17s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'varco COMMAND -h' for a command's flags.")
}

// run executes the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{ctx: ctx, stdout: stdout, stderr: stderr}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		var group, name string
		fmt.Sscan(c.name, &group, &name)
		if args[0] != group {
			continue
		}
		rest := args[1:]
		if name != "" { // a two-word command
			if len(args) < 2 || args[1] != name {
				continue
			}
			rest = args[2:]
		}
		err := c.run(e, rest)
		switch {
		case err == nil:
			return exitOK
		case errors.Is(err, flag.ErrHelp):
			return exitOK
		case errors.Is(err, errUsage):
			fmt.Fprintf(stderr, "varco %s: %v\n", c.name, err)
			return exitUsage
		default:
			fmt.Fprintf(stderr, "varco %s: %v\n", c.name, err)
			return exitFail
		}
	}
	fmt.Fprintf(stderr, "varco: unknown command %q\n\n", joinArgs(args, 2))
	usage(stderr)
	return exitUsage
}

func joinArgs(args []string, n int) string {
	if len(args) < n {
		n = len(args)
	}
	s := ""
	for i, a := range args[:n] {
		if i > 0 {
			s += " "
		}
		s += a
	}
	return s
}

// newFlags returns a FlagSet for a command that prints its usage to stderr.
func (e *env) newFlags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("varco "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: varco %s %s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args and turns flag errors into errUsage (the flag package
// has already printed the problem and the usage).
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}
