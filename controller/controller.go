package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/controller/clocktrust"
	"github.com/varco-access/varco/controller/config"
	"github.com/varco-access/varco/controller/decide"
	"github.com/varco-access/varco/controller/door"
	"github.com/varco-access/varco/controller/fakegpio"
	"github.com/varco-access/varco/controller/metrics"
	"github.com/varco-access/varco/controller/mqttsync"
	"github.com/varco-access/varco/controller/sdnotify"
	"github.com/varco-access/varco/controller/store"
	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/reader/pcsc"
)

// firstVPCDPort is the port of vpcd's first reader, "Virtual PCD 00 00"; the
// next port is "Virtual PCD 00 01" (Debian's vsmartcard-vpcd reader.conf).
const firstVPCDPort = 35963

// unit is one door with its reader.
type unit struct {
	cfg    config.Door
	reader string // PC/SC reader name
	door   *door.Door
	// loc is the zone of the door's schedules: the admin's for the door
	// when it set one, else the site's.
	loc  atomic.Pointer[time.Location]
	sync *mqttsync.Session // nil without [mqtt]
}

// Controller is a running varco-door. Create it with New, then Run it.
type Controller struct {
	cfg     config.Config
	log     *slog.Logger
	store   *store.Store
	loc     *time.Location
	clock   *clocktrust.Tracker
	metrics *metrics.Metrics
	events  *prometheus.CounterVec
	gpio    *fakegpio.Bank // with gpio = "fake"

	units    []*unit
	byReader map[string]*unit
	byID     map[string]*unit
}

// New opens the store, puts every relay in its safe state and prepares the
// doors. On error, whatever was opened is closed again (relays safe).
func New(cfg config.Config, log *slog.Logger) (c *Controller, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	loc, err := cfg.Site.Location()
	if err != nil {
		return nil, err
	}
	c = &Controller{cfg: cfg, log: log, loc: loc, byReader: map[string]*unit{}, byID: map[string]*unit{}}
	defer func() {
		if err != nil {
			c.Close()
			c = nil
		}
	}()

	// Relays first: a door must be safe before anything can fail.
	if err := c.openDoors(); err != nil {
		return nil, err
	}
	c.store, err = store.Open(cfg.StorePath(), &store.Options{OutboxCap: cfg.OutboxCap})
	if err != nil {
		return nil, err
	}
	c.metrics = metrics.New(metrics.BuildInfo{})
	c.events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "varco_door_events_total",
		Help: "Events stored in the outbox, by door and kind.",
	}, []string{"door", "kind"})
	c.metrics.Registry().MustRegister(c.events)
	for _, u := range c.units {
		c.metrics.AddDoor(u.cfg.ID, u.reader)
		if rev, _, err := c.store.Revision(u.cfg.ID); err == nil {
			c.metrics.SetRevision(u.cfg.ID, rev)
		}
	}
	c.clock = clocktrust.New(clocktrust.Options{
		RTC: cfg.Clock.RTC || !cfg.Clock.NTPCheck,
		OnTrust: func() {
			c.metrics.SetClockTrusted(true)
			for _, u := range c.units {
				c.emit(varco.Event{Door: u.cfg.ID, Time: time.Now(), Kind: varco.EventClock, Detail: "clock trusted"})
			}
		},
	})
	c.metrics.SetClockTrusted(c.clock.Trusted())
	for _, u := range c.units {
		c.restoreSettings(u)
	}
	if cfg.MQTT.Enabled() {
		if err := c.startSync(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// restoreSettings puts a door back in the mode and zone its store holds:
// a lockdown survives a reboot, and the admin's zone for the door is
// used from the first tap.
func (c *Controller) restoreSettings(u *unit) {
	u.loc.Store(c.loc)
	set, err := c.store.DoorSettings(u.cfg.ID)
	if err != nil {
		c.log.Error("door settings", "door", u.cfg.ID, "err", err)
		return
	}
	if m := set.Effective(); m != u.door.Mode() {
		if err := u.door.SetMode(m); err != nil {
			c.log.Error("restore door mode", "door", u.cfg.ID, "mode", m, "err", err)
		}
	}
	if set.TimeZone != "" {
		if l, err := time.LoadLocation(set.TimeZone); err == nil {
			u.loc.Store(l)
		}
	}
}

// startSync makes one MQTT session per door (see controller/mqttsync):
// a connection has one Last Will and the broker's ACL is per door.
func (c *Controller) startSync() error {
	key, err := c.cfg.Site.Key()
	if err != nil {
		return fmt.Errorf("site.site_public_key: %w", err)
	}
	u0, err := url.Parse(c.cfg.MQTT.Broker)
	if err != nil {
		return fmt.Errorf("mqtt.broker: %w", err)
	}
	secure := false
	switch u0.Scheme {
	case "mqtts", "ssl", "tls", "wss":
		secure = true
	}
	version := buildVersion()
	for _, u := range c.units {
		willTopic, will, err := mqttsync.WillFor(c.cfg.Site.ID, u.cfg.ID)
		if err != nil {
			return err
		}
		po := mqttsync.PahoOptions{
			Broker:    c.cfg.MQTT.Broker,
			ClientID:  mqttsync.ClientID(u.cfg.ID),
			WillTopic: willTopic, Will: will,
			KeepAlive: c.cfg.MQTT.KeepAlive.Duration,
			Backoff:   mqttsync.Backoff{Min: c.cfg.MQTT.ReconnectMin.Duration, Max: c.cfg.MQTT.ReconnectMax.Duration},
			Log:       c.log.With("door", u.cfg.ID),
		}
		if secure {
			certFile, keyFile := c.cfg.DoorTLS(u.cfg)
			po.TLS = mqttsync.TLSFiles(c.cfg.MQTT.CA, certFile, keyFile, "")
		}
		tr, err := mqttsync.NewPahoTransport(po)
		if err != nil {
			return fmt.Errorf("mqtt.broker: %w", err)
		}
		u.sync, err = mqttsync.New(mqttsync.Options{
			Site: c.cfg.Site.ID, SiteKey: key, Door: u.door, Store: c.store, Transport: tr,
			Emit: c.emit, ClockTrusted: c.clock.Trusted,
			SetLocation: func(l *time.Location) { u.loc.Store(l) },
			Metrics:     c.metrics, Log: c.log, Version: version,
		})
		if err != nil {
			return fmt.Errorf("door %s: %w", u.cfg.ID, err)
		}
	}
	return nil
}

// buildVersion is the module version of the binary, for Status.Version.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// readerName is the PC/SC reader of a door: the configured name, or for
// reader = "virtual" the vpcd reader listening on vpcd_port.
func readerName(d config.Door) string {
	if d.Reader != config.VirtualReader {
		return d.Reader
	}
	port := d.VPCDPort
	if port == 0 {
		port = firstVPCDPort
	}
	return fmt.Sprintf("Virtual PCD 00 %02d", port-firstVPCDPort)
}

func (c *Controller) openDoors() error {
	fake := c.cfg.GPIO == config.GPIOFake
	if fake {
		var names []string
		for _, d := range c.cfg.Doors {
			names = append(names, d.RelayPin, d.ContactPin, d.RexPin)
		}
		bank, err := fakegpio.Register(names...)
		if err != nil {
			return err
		}
		c.gpio = bank
	}
	for _, d := range c.cfg.Doors {
		var (
			pins door.Pins
			err  error
		)
		if fake {
			pins, err = door.OpenPins(d.RelayPin, d.ContactPin, d.RexPin)
		} else {
			pins, err = door.OpenHost(d.RelayPin, d.ContactPin, d.RexPin)
		}
		if err != nil {
			return fmt.Errorf("door %s: %w", d.ID, err)
		}
		dc := door.DefaultConfig(d.ID)
		dc.ReleaseTime = d.ReleaseTime.Duration
		dc.HeldOpenAfter = d.HeldOpenAfter.Duration
		dc.Debounce = d.Debounce.Duration
		dc.FailSafe = d.FailMode == config.FailSafe
		dc.DeniedRepeatWindow = d.DeniedRepeatWindow.Duration
		if dc.DeniedRepeatWindow == 0 {
			dc.DeniedRepeatWindow = door.LogEveryDenial // "0 logs every tap"
		}
		dc.RelayActiveLow = d.RelayActiveLow
		dc.ContactActiveLow = d.ContactActiveLow
		dc.REXActiveLow = d.RexActiveLow
		dr, err := door.New(dc, pins, nil, c.emit)
		if err != nil {
			return err
		}
		u := &unit{cfg: d, reader: readerName(d), door: dr}
		c.units = append(c.units, u)
		c.byReader[u.reader] = u
		c.byID[d.ID] = u
	}
	return nil
}

// emit stores an event in the outbox. It must stay quick: doors call it
// with their lock held. An outbox failure is logged, never blocks a door.
func (c *Controller) emit(ev varco.Event) {
	if c.store == nil {
		c.log.Info("event before the store opened", "door", ev.Door, "kind", ev.Kind, "detail", ev.Detail)
		return
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	// The admin shows how far an event's time can be trusted.
	ev.ClockTrusted = c.clock != nil && c.clock.Trusted()
	stored, err := c.store.Append(ev) // bbolt serialises writers
	if err != nil {
		c.log.Error("outbox append failed", "door", ev.Door, "kind", ev.Kind, "err", err)
		return
	}
	c.events.WithLabelValues(ev.Door, string(ev.Kind)).Inc()
	if n, err := c.store.Len(ev.Door); err == nil {
		c.metrics.SetOutboxLen(ev.Door, n)
	}
	if u := c.byID[ev.Door]; u != nil && u.sync != nil {
		u.sync.Notify() // never blocks
	}
	c.log.Info("event", "door", stored.Door, "seq", stored.Seq, "kind", stored.Kind,
		"nis", stored.NIS, "person", stored.PersonID, "reason", stored.Reason, "detail", stored.Detail)
}

// Tap handles one card presented at door u: read, decide, act, log. It is
// OnCard of the reader loop, and the unit of the tap-to-relay latency.
func (c *Controller) tap(u *unit, card reader.Transmitter) error {
	_, err := c.decideTap(u, card)
	return err
}

// decideTap is tap, returning the decision as well.
func (c *Controller) decideTap(u *unit, card reader.Transmitter) (varco.Decision, error) {
	start := time.Now()
	c.metrics.Tap(u.cfg.ID)
	read, rerr := reader.ReadDoor(card, nil)
	loc := u.loc.Load()
	in := decide.Input{Read: read, ReadErr: rerr, Location: loc, Mode: u.door.Mode(),
		Clock: decide.ClockState{Trusted: c.clock.Trusted()}}
	in.Policy.MaxOffline = c.cfg.MaxOffline.Duration
	if c.cfg.ClockPolicy(u.cfg) == config.ClockAllow {
		in.Policy.UntrustedClock = decide.UntrustedAllowLocal
	}
	var grant varco.Grant
	if rerr == nil {
		err := c.store.View(func(r *store.ReadTx) error {
			g, ok, err := r.Grant(u.cfg.ID, read.NIS)
			if err != nil || !ok {
				return err
			}
			grant = g
			in.Grant = &grant
			if in.Schedules, err = r.Schedules(); err != nil {
				return err
			}
			_, in.LastSync, err = r.Revision(u.cfg.ID)
			if err != nil {
				return err
			}
			today := start.In(loc).Format(time.DateOnly)
			hol, err := r.IsHoliday(today)
			in.Holidays = map[string]bool{today: hol}
			return err
		})
		if err != nil {
			// The allowlist cannot be read: deny, as for an unreadable card.
			c.log.Error("allowlist lookup failed", "door", u.cfg.ID, "err", err)
			in.Read, in.ReadErr = nil, err
		}
	}
	in.Now = time.Now()
	dec := decide.Decide(in)
	c.metrics.Decision(u.cfg.ID, dec)
	ev := varco.Event{Door: u.cfg.ID, Time: in.Now, PersonID: dec.PersonID}
	if read != nil {
		ev.NIS = read.NIS
	}
	if dec.Granted {
		var released bool
		if in.Grant != nil && in.Grant.Flags.Has(varco.FlagLockdownOverride) {
			released = u.door.GrantOverride()
		} else {
			released = u.door.Grant()
		}
		c.metrics.TapToRelay(u.cfg.ID, time.Since(start))
		ev.Kind = varco.EventGranted
		if !released {
			ev.Detail = "door already unlocked"
		}
		c.emit(ev)
		return dec, nil
	}
	ev.Kind, ev.Reason = varco.EventDenied, dec.Reason
	if rerr != nil {
		ev.Detail = rerr.Error()
	}
	if u.door.Denied(ev.NIS, dec.Reason) {
		c.emit(ev)
	}
	return dec, rerr
}

// Run serves the doors until ctx ends: the reader loop, the metrics (and
// fake GPIO) endpoint, the clock check and the systemd watchdog. It then
// halts every door (relays safe) and returns.
func (c *Controller) Run(ctx context.Context) (err error) {
	defer door.HaltOnPanic(c.doors()...)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	for _, u := range c.units {
		c.emit(varco.Event{Door: u.cfg.ID, Time: time.Now(), Kind: varco.EventController, Detail: "started"})
	}
	if c.cfg.MetricsAddr != "" {
		ln, err := net.Listen("tcp", c.cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("metrics_addr %s: %w", c.cfg.MetricsAddr, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.serveHTTP(ctx, ln)
		}()
	}
	wg.Add(2)
	go func() { defer wg.Done(); c.clock.Run(ctx) }()
	go func() { defer wg.Done(); sdnotify.Watchdog(ctx) }()
	for _, u := range c.units {
		if u.sync == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer door.HaltOnPanic(c.doors()...)
			if err := u.sync.Run(ctx); err != nil {
				c.log.Error("mqtt sync stopped", "door", u.cfg.ID, "err", err)
			}
		}()
	}

	mon := pcsc.NewMonitor(pcsc.Options{
		Match: func(name string) bool { _, ok := c.byReader[name]; return ok },
		OnCard: func(_ context.Context, name string, card reader.Transmitter) error {
			return c.tap(c.byReader[name], card)
		},
		OnEvent: c.readerEvent,
	})
	sdnotify.Ready()
	c.log.Info("varco-door running", "doors", len(c.units), "store", c.store.Path())
	err = mon.Run(ctx)
	sdnotify.Stopping()
	for _, u := range c.units {
		c.emit(varco.Event{Door: u.cfg.ID, Time: time.Now(), Kind: varco.EventController, Detail: "stopping"})
	}
	return errors.Join(err, door.HaltAll(c.doors()...))
}

func (c *Controller) readerEvent(ev pcsc.Event) {
	switch ev.Kind {
	case pcsc.ReaderAdded, pcsc.ReaderRemoved:
		u, ok := c.byReader[ev.Reader]
		if !ok {
			return
		}
		up := ev.Kind == pcsc.ReaderAdded
		c.metrics.SetReaderUp(u.cfg.ID, u.reader, up)
		c.emit(varco.Event{Door: u.cfg.ID, Time: ev.Time, Kind: varco.EventReader, Detail: fmt.Sprintf("%s %s", ev.Kind, ev.Reader)})
	case pcsc.ServiceDown:
		for _, u := range c.units {
			c.emit(varco.Event{Door: u.cfg.ID, Time: ev.Time, Kind: varco.EventReader, Detail: "pcscd unreachable: " + errString(ev.Err)})
		}
	case pcsc.ReadFailed:
		c.log.Warn("card read failed", "reader", ev.Reader, "err", ev.Err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (c *Controller) serveHTTP(ctx context.Context, ln net.Listener) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", c.metrics.Handler())
	if c.gpio != nil {
		mux.Handle("/debug/gpio", c.gpio.Handler())
		mux.Handle("POST /debug/tap", c.debugTap())
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		c.log.Error("http server", "err", err)
	}
}

func (c *Controller) doors() []*door.Door {
	ds := make([]*door.Door, 0, len(c.units))
	for _, u := range c.units {
		ds = append(ds, u.door)
	}
	return ds
}

// Close halts the doors and closes the store.
func (c *Controller) Close() error {
	err := door.HaltAll(c.doors()...)
	if c.store != nil {
		err = errors.Join(err, c.store.Close())
	}
	return err
}
