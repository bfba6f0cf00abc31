package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/reader/virtcie"
)

// The demo's enrolment desk. pcscd's vpcd driver offers two readers per
// configuration entry, and a second entry does not work beside the first
// (the driver's readers of both entries share their state), so in the
// demo both vpcd readers belong to the doors. A station started with
// `varco enroll --virtual ADDR` reads virtual cards handed to it over
// loopback TCP instead (`varco tap` at a station): the same enrolment
// read, challenge signature included, on the virtual card itself rather
// than through pcscd. Real stations use a PC/SC reader.

// deskWait is how long a card handed to the desk waits for a read to
// take it (an enrolment request from the admin) before it is refused.
const deskWait = 5 * time.Second

// virtualDesk is the listener of `varco enroll --virtual`.
type virtualDesk struct {
	ln    net.Listener
	cards chan deskCard
	wait  time.Duration // deskWait, but in tests
}

// deskCard is a card handed to the desk, and where to say what became of
// it.
type deskCard struct {
	card  *virtcie.Card
	taken chan<- string
}

// listenDesk listens on addr, which must be a loopback address: cards
// come with their private keys.
func listenDesk(addr string) (*virtualDesk, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--virtual %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("--virtual %q: want a loopback address such as 127.0.0.1:35970 (virtual cards carry their keys)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--virtual: %w", err)
	}
	return &virtualDesk{ln: ln, cards: make(chan deskCard), wait: deskWait}, nil
}

// serve accepts cards until ctx ends: each connection carries one card
// file, and is answered with one line, "ok ..." once a read took it or
// "error: ..." otherwise.
func (d *virtualDesk) serve(ctx context.Context) {
	go func() { <-ctx.Done(); d.ln.Close() }()
	for {
		conn, err := d.ln.Accept()
		if err != nil {
			return
		}
		go d.handle(ctx, conn)
	}
}

func (d *virtualDesk) handle(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(d.wait + 30*time.Second))
	b, err := io.ReadAll(io.LimitReader(conn, 1<<20+1))
	if err != nil {
		fmt.Fprintf(conn, "error: %v\n", err)
		return
	}
	card, err := virtcie.Parse("the card handed to the desk", b)
	if err != nil {
		fmt.Fprintf(conn, "error: %v\n", err)
		return
	}
	taken := make(chan string, 1)
	t := time.NewTimer(d.wait)
	defer t.Stop()
	select {
	case d.cards <- deskCard{card: card, taken: taken}:
		fmt.Fprintf(conn, "ok %s\n", <-taken)
	case <-t.C:
		fmt.Fprintf(conn, "error: no enrolment request is waiting for a card (start one in the panel first)\n")
	case <-ctx.Done():
		fmt.Fprintf(conn, "error: the station is stopping\n")
	}
}

// read is the readCardFunc of the desk: the next card handed over, read
// as a PC/SC card would be.
func (d *virtualDesk) read(ctx context.Context, challenge []byte) (*reader.EnrolRead, string, error) {
	select {
	case dc := <-d.cards:
		rd, err := reader.ReadEnrol(dc.card, &reader.EnrolOptions{Challenge: challenge})
		if err != nil {
			dc.taken <- "read failed: " + err.Error()
		} else {
			dc.taken <- "read NIS " + rd.NIS
		}
		return rd, "virtual desk", err
	case <-ctx.Done():
		return nil, "", context.Cause(ctx)
	}
}

// handToDesk gives the card file b to the desk at addr and returns its
// answer.
func handToDesk(ctx context.Context, addr string, b []byte) (string, error) {
	var dl net.Dialer
	conn, err := dl.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("enrolment desk %s: %w (is the demo running?)", addr, err)
	}
	defer conn.Close()
	if _, err := conn.Write(b); err != nil {
		return "", err
	}
	conn.(*net.TCPConn).CloseWrite()
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("enrolment desk %s: %w", addr, err)
	}
	line = strings.TrimRight(line, "\r\n")
	if msg, ok := strings.CutPrefix(line, "error: "); ok {
		return "", errors.New(msg)
	}
	msg, _ := strings.CutPrefix(line, "ok ")
	return msg, nil
}
