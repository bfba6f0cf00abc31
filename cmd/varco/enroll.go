package main

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/varco-access/varco/admin/syncer"
	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/reader/pcsc"
	"github.com/varco-access/varco/wire"
	"github.com/varco-access/varco/wire/sitepki"
)

// The enrolment station (ARCHITECTURE.md section 8): a workstation with a
// USB reader where HR enrols a person's CIE. varco-admin sends the
// station a signed challenge for each enrolment session; the station
// waits for a card, reads NIS, key file and EF.SOD and has the card sign
// the admin's challenge (reader.ReadEnrol), and sends all of it back.
// The admin verifies everything: the station is trusted with nothing but
// carrying bytes, so a compromised station can deny service but cannot
// enrol a card that is not genuine.

// stationMargin is how long before a challenge's expiry the station stops
// waiting for a card, so that its answer reaches the admin in time.
const stationMargin = 2 * time.Second

// stationSeen bounds the challenge ids remembered to drop duplicates
// (QoS 1 redelivers).
const stationSeen = 64

// readCardFunc waits for a card until ctx ends and performs the
// enrolment read with challenge: what was read and on which reader.
type readCardFunc func(ctx context.Context, challenge []byte) (*reader.EnrolRead, string, error)

// stationOptions configure runStation.
type stationOptions struct {
	Site, Station string
	// SitePub is the site's public key: challenges must be signed with
	// its private half.
	SitePub   ed25519.PublicKey
	Transport syncer.Transport
	Read      readCardFunc
	// Out receives one line per thing that happened, for the person at
	// the station.
	Out io.Writer
	Now func() time.Time
}

// Errors that end a read early; their text goes to the admin.
var (
	errSuperseded = errors.New("replaced by a newer enrolment request")
	errNoCard     = errors.New("no card was presented in time")
	errStopped    = errors.New("the enrolment station was stopped before a card was read")
)

// station is one run of runStation.
type station struct {
	o        stationOptions
	verifier *wire.Verifier
	wake     chan struct{}

	mu      sync.Mutex
	pending *wire.EnrollChallenge
	cancel  context.CancelCauseFunc // of the read in progress
	seen    []string                // challenge ids taken, oldest first
}

// runStation serves enrolment challenges until ctx ends: each valid
// challenge is answered with a card read, or with the reason there is
// none. A challenge arriving during a read replaces the one being read.
func runStation(ctx context.Context, o stationOptions) error {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	s := &station{o: o, verifier: wire.NewVerifier(o.SitePub, o.Site, o.Station), wake: make(chan struct{}, 1)}
	topic := wire.Topic(o.Site, o.Station, wire.KindEnroll)
	if err := o.Transport.Subscribe(ctx, topic, s.receive); err != nil {
		return fmt.Errorf("subscribe %s: %w", topic, err)
	}
	s.printf("station %s of site %s ready: waiting for enrolment requests from varco-admin", o.Station, o.Site)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		}
		s.mu.Lock()
		ch := s.pending
		s.pending = nil
		s.mu.Unlock()
		if ch != nil {
			s.serve(ctx, *ch)
		}
	}
}

func (s *station) printf(format string, args ...any) {
	fmt.Fprintf(s.o.Out, "%s %s\n", s.o.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// receive takes a challenge from the broker: it must open with the site
// key for this station, be unexpired and new.
func (s *station) receive(_ string, payload []byte) {
	var ch wire.EnrollChallenge
	if err := s.verifier.Open(wire.KindEnroll, payload, &ch); err != nil {
		s.printf("refused an enrolment request: %v", err)
		return
	}
	if err := ch.Check(s.o.Now()); err != nil {
		s.printf("ignored an expired enrolment request %s (expired %s; is this computer's clock right?)", ch.ID, ch.ExpiresAt.Local().Format(time.DateTime))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.seen {
		if id == ch.ID {
			return // a duplicate
		}
	}
	s.seen = append(s.seen, ch.ID)
	if len(s.seen) > stationSeen {
		s.seen = s.seen[1:]
	}
	s.pending = &ch
	if s.cancel != nil {
		s.cancel(errSuperseded)
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// serve reads a card for ch and sends the result.
func (s *station) serve(ctx context.Context, ch wire.EnrollChallenge) {
	deadline := ch.ExpiresAt.Add(-stationMargin)
	left := deadline.Sub(s.o.Now())
	if left <= 0 {
		s.printf("enrolment request %s came too late to read a card", ch.ID)
		return
	}
	rctx, cancel := context.WithCancelCause(ctx)
	s.mu.Lock()
	s.cancel = cancel
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.cancel = nil
		s.mu.Unlock()
		cancel(nil)
	}()
	tctx, tcancel := context.WithTimeoutCause(rctx, left, errNoCard)
	defer tcancel()

	s.printf("enrolment request %s: present the CIE on the reader (%s left)", ch.ID, left.Round(time.Second))
	rd, name, err := s.o.Read(tctx, ch.Challenge)
	res := wire.EnrollResult{ID: ch.ID}
	switch cause := context.Cause(tctx); {
	case err == nil:
		res.NIS, res.PublicKey, res.SOD, res.Signature = rd.NIS, rd.KeyFile, rd.SOD, rd.Signature
		s.printf("card NIS %s read on %q: sent to varco-admin, which verifies it", rd.NIS, name)
	case errors.Is(cause, errSuperseded):
		// The admin ended the session itself when it made the new one.
		s.printf("enrolment request %s replaced by a newer one", ch.ID)
		return
	case ctx.Err() != nil:
		res.Error = errStopped.Error()
	case errors.Is(cause, errNoCard):
		res.Error = fmt.Sprintf("%v (%s on this station)", errNoCard, left.Round(time.Second))
	default:
		res.Error = "the card could not be read: " + err.Error()
	}
	if res.Error != "" {
		s.printf("enrolment request %s: %s", ch.ID, res.Error)
		if len(res.Error) > wire.MaxText {
			res.Error = res.Error[:wire.MaxText]
		}
	}
	msg, err := wire.Encode(wire.KindEnrollResult, s.o.Site, s.o.Station, res)
	if err != nil {
		s.printf("cannot encode the result: %v", err)
		return
	}
	// Sent even when ctx ended (Ctrl-C): the admin learns at once.
	pctx, pcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer pcancel()
	k := wire.KindEnrollResult
	if err := s.o.Transport.Publish(pctx, wire.Topic(s.o.Site, s.o.Station, k), k.QoS(), k.Retained(), msg); err != nil {
		s.printf("could not send the result to varco-admin: %v", err)
	}
}

// pcscReadCard is the readCardFunc of a PC/SC reader (name, or any when
// empty): it waits for a card as 'cie read' does, and asks for the card
// again when it left the field during the read.
func pcscReadCard(name string, verbose bool, log io.Writer) readCardFunc {
	return func(ctx context.Context, challenge []byte) (*reader.EnrolRead, string, error) {
		type outcome struct {
			rd     *reader.EnrolRead
			reader string
			err    error
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var once sync.Once
		done := make(chan outcome, 1)
		mon := pcsc.NewMonitor(pcsc.Options{
			Match: func(r string) bool { return name == "" || r == name },
			OnCard: func(_ context.Context, readerName string, card reader.Transmitter) error {
				rd, err := reader.ReadEnrol(card, &reader.EnrolOptions{Challenge: challenge})
				if err != nil && isTransient(err) {
					fmt.Fprintf(log, "%s: card removed during the read (%v); present it again\n", readerName, err)
					return err
				}
				once.Do(func() {
					done <- outcome{rd, readerName, err}
					cancel()
				})
				return err
			},
			OnEvent: func(ev pcsc.Event) {
				if verbose || ev.Kind == pcsc.ServiceDown {
					fmt.Fprintf(log, "%s %s\n", ev.Time.Format("15:04:05.000"), ev)
				}
			},
		})
		if err := mon.Run(ctx); err != nil {
			return nil, "", err
		}
		select {
		case o := <-done:
			return o.rd, o.reader, o.err
		default:
		}
		return nil, "", fmt.Errorf("no card read%s: %w", onReader(name), context.Cause(ctx))
	}
}

// enroll is `varco enroll`: the enrolment station.
func enroll(e *env, args []string) error {
	fs := e.newFlags("enroll", "--broker URL --cert FILE --key FILE [--ca FILE] [--site-key FILE] [--site S] [--station ID] [--reader NAME | --virtual ADDR] [-v]")
	broker := fs.String("broker", "", "the MQTT broker: mqtts://host:8883 (varco-admin's, or the site's)")
	certFile := fs.String("cert", "", "the station's certificate, from 'varco station provision' (Common Name station:<id>)")
	keyFile := fs.String("key", "", "the station's private key")
	caFile := fs.String("ca", "", "the site MQTT CA certificate (default: ca.crt beside --cert)")
	siteKeyFile := fs.String("site-key", "", "the site's public key, which signs every enrolment request (default: site.pub beside --cert)")
	site := fs.String("site", "", "the site id of the topics (default: the site the CA was made for)")
	stationID := fs.String("station", "", "the station's id (default: the one its certificate names)")
	name := fs.String("reader", "", "PC/SC reader to use (default: the first reader a card is presented on)")
	virtual := fs.String("virtual", "", "demo only: instead of a PC/SC reader, read the virtual cards `varco tap` hands over on this loopback address")
	verbose := fs.Bool("v", false, "print reader events and MQTT connection messages to stderr")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *broker == "" || *certFile == "" || *keyFile == "" || fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("%w: --broker, --cert and --key are required and no other arguments are taken", errUsage)
	}
	if *virtual != "" && *name != "" {
		return fmt.Errorf("%w: --reader and --virtual exclude each other", errUsage)
	}
	if err := checkBrokerURL(*broker); err != nil {
		return fmt.Errorf("%w: --broker %q: %v", errUsage, *broker, err)
	}
	if *site != "" && !wire.ValidID(*site) {
		return fmt.Errorf("%w: --site %q: want 1 to %d ASCII letters, digits, '.', '_' or '-'", errUsage, *site, wire.MaxIDLength)
	}
	dir := filepath.Dir(*certFile)
	if *caFile == "" {
		*caFile = filepath.Join(dir, "ca.crt")
	}
	if *siteKeyFile == "" {
		*siteKeyFile = filepath.Join(dir, "site.pub")
	}
	certPEM, err := os.ReadFile(*certFile)
	if err != nil {
		return err
	}
	keyPEM, err := os.ReadFile(*keyFile)
	if err != nil {
		return err
	}
	caPEM, err := os.ReadFile(*caFile)
	if err != nil {
		return err
	}
	pubText, err := os.ReadFile(*siteKeyFile)
	if err != nil {
		return err
	}
	sitePub, err := wire.ParsePublicKey(strings.TrimSpace(string(pubText)))
	if err != nil {
		return fmt.Errorf("--site-key %s: %w", *siteKeyFile, err)
	}
	id, err := certStation(certPEM)
	if err != nil {
		return fmt.Errorf("--cert %s: %w", *certFile, err)
	}
	if *stationID != "" && *stationID != id {
		return fmt.Errorf("%w: --station %q but the certificate is station %q's: the broker knows the station by its certificate", errUsage, *stationID, id)
	}
	if *site == "" {
		if *site, err = pemCASite(caPEM); err != nil {
			return fmt.Errorf("--ca %s: %w", *caFile, err)
		}
	}
	tlsCfg, err := sitepki.ClientTLSConfig(certPEM, keyPEM, caPEM, "")
	if err != nil {
		return err
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	tr, err := syncer.NewPaho(syncer.PahoOptions{URL: *broker, TLS: tlsCfg, ClientID: sitepki.StationIdentity(id),
		Log: slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))})
	if err != nil {
		return err
	}
	defer tr.Close()
	read := pcscReadCard(*name, *verbose, e.stderr)
	if *virtual != "" {
		desk, err := listenDesk(*virtual)
		if err != nil {
			return err
		}
		go desk.serve(e.ctx)
		read = desk.read
		fmt.Fprintf(e.stdout, "virtual enrolment desk on %s (demo): cards come from `varco tap`\n", *virtual)
	}
	return runStation(e.ctx, stationOptions{Site: *site, Station: id, SitePub: sitePub, Transport: tr,
		Read: read, Out: e.stdout})
}

// certStation returns the station id a station certificate names.
func certStation(certPEM []byte) (string, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return "", errors.New("no PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", err
	}
	role, id, err := sitepki.ParseIdentity(cert.Subject.CommonName)
	if err != nil || role != sitepki.RoleStation {
		return "", fmt.Errorf("Common Name %q: want station:<id> (issue one with 'varco station provision')", cert.Subject.CommonName)
	}
	return id, nil
}

// pemCASite is the site a site CA certificate names.
func pemCASite(caPEM []byte) (string, error) {
	block, _ := pem.Decode(caPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return "", errors.New("no PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", err
	}
	if s, ok := strings.CutPrefix(cert.Subject.CommonName, "Varco site "); ok {
		if s, ok := strings.CutSuffix(s, " MQTT CA"); ok && wire.ValidID(s) {
			return s, nil
		}
	}
	return "", fmt.Errorf("the CA %q names no site: give --site", cert.Subject.CommonName)
}

// stationProvision issues an enrolment station's MQTT certificate from
// the site CA of varco-admin's data directory.
func stationProvision(e *env, args []string) error {
	p, err := parseProvision(e, "station", "the station's id: HR picks the station by it when enrolling", args)
	if err != nil {
		return err
	}
	dataDir, id, broker, site, out, force := &p.dataDir, &p.id, &p.broker, &p.site, &p.out, &p.force

	identity := sitepki.StationIdentity(*id)
	if _, err := provisionClient(e, "station provision", *dataDir, site, identity, *id, *out, *force,
		"a new site CA is the only way to shut a lost station certificate out; it can only read cards for sessions HR opens"); err != nil {
		return err
	}
	w := e.stdout
	fmt.Fprintf(w, "# Enrolment station %q of site %q, issued %s.\n", *id, *site, time.Now().UTC().Format(time.DateOnly))
	fmt.Fprintf(w, "# Files written to %s: ca.crt, %s.crt, %s.key (the station's private key), site.pub.\n", *out, *id, *id)
	fmt.Fprintf(w, "# Copy the directory to the workstation with the USB reader (keep %s.key private) and run:\n\n", *id)
	fmt.Fprintf(w, "varco enroll --broker %s --cert %s --key %s --ca %s --site-key %s --site %s\n",
		*broker, filepath.Join(*out, *id+".crt"), filepath.Join(*out, *id+".key"), filepath.Join(*out, "ca.crt"), filepath.Join(*out, "site.pub"), *site)
	return nil
}
