package main

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/varco-access/varco/admin/config"
	"github.com/varco-access/varco/wire"
	"github.com/varco-access/varco/wire/atomicfile"
	"github.com/varco-access/varco/wire/sitepki"
)

// Where varco-door looks for things by default (controller/config): the
// snippet doorProvision prints puts the files there.
const (
	doorCAFile   = "/etc/varco/tls/ca.crt"
	doorStateDir = "/var/lib/varco-door"
)

// doorProvision issues a door's MQTT client certificate from the site CA
// of varco-admin's data directory, and prints the door's configuration.
func doorProvision(e *env, args []string) error {
	p, err := parseProvision(e, "door", "the door's id: its controller id in varco-admin, its [[doors]] id in varco-door", args)
	if err != nil {
		return err
	}
	dataDir, door, broker, site, out, force := &p.dataDir, &p.id, &p.broker, &p.site, &p.out, &p.force

	identity := sitepki.DoorIdentity(*door)
	pub, err := provisionClient(e, "door provision", *dataDir, site, identity, *door, *out, *force,
		"delete the door in varco-admin to shut a lost one out")
	if err != nil {
		return err
	}

	w := e.stdout
	fmt.Fprintf(w, "# varco-door configuration for door %q of site %q, issued %s.\n", *door, *site, time.Now().UTC().Format(time.DateOnly))
	fmt.Fprintf(w, "# Files written to %s: ca.crt, %s.crt, %s.key (the door's private key), site.pub.\n", *out, *door, *door)
	fmt.Fprintf(w, "# Copy them to the door controller:\n")
	fmt.Fprintf(w, "#   %-24s -> %s\n", "ca.crt", doorCAFile)
	fmt.Fprintf(w, "#   %-24s -> %s\n", *door+".crt", filepath.Join(doorStateDir, "mqtt", *door+".crt"))
	fmt.Fprintf(w, "#   %-24s -> %s (mode 0600, owned by varco-door's user)\n", *door+".key", filepath.Join(doorStateDir, "mqtt", *door+".key"))
	fmt.Fprintf(w, "# There varco-door finds them without client_cert/client_key (its default is\n")
	fmt.Fprintf(w, "# <state_dir>/mqtt/<id>.crt and .key). varco-admin admits the certificate\n")
	fmt.Fprintf(w, "# (Common Name %q) only once a door with controller id %q exists.\n", identity, *door)
	fmt.Fprintf(w, "# Merge into /etc/varco/varco-door.toml:\n\n")
	fmt.Fprintf(w, "[site]\nid = %q\nsite_public_key = %q\n\n", *site, pub)
	fmt.Fprintf(w, "[mqtt]\nbroker = %q\nca = %q\n\n", *broker, doorCAFile)
	fmt.Fprintf(w, "[[doors]]\nid = %q\n# ... the door's reader and pins\n", *door)
	return nil
}

// provisionClient issues the MQTT client certificate of identity from the
// site CA in dataDir and writes, into out (created 0700), name.key,
// name.crt, ca.crt and site.pub; *site is set from the CA when empty. It
// returns the site public key as EncodePublicKey gives it. revoke says,
// in the error for an existing certificate, how to shut a lost one out.
func provisionClient(e *env, cmd, dataDir string, site *string, identity, name, out string, force bool, revoke string) (string, error) {
	caDir := filepath.Join(dataDir, config.MQTTDir)
	keyPath := filepath.Join(dataDir, config.SiteKeyFile)
	ca, err := sitepki.LoadCA(caDir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("no site MQTT CA in %s: start varco-admin once first (it creates the CA and the site key in its data_dir), or check --data-dir", caDir)
	} else if err != nil {
		return "", err
	}
	siteKey, err := wire.LoadPrivateKey(keyPath)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("no site key %s: start varco-admin once first (it creates the site key and the CA in its data_dir), or check --data-dir", keyPath)
	} else if err != nil {
		return "", err
	}
	if *site == "" {
		*site = caSite(ca)
	}

	certPEM, keyPEM, err := ca.ClientCert(identity, time.Now())
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(out, 0o700); err != nil {
		return "", err
	}
	if fi, err := os.Stat(out); err == nil && fi.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(e.stderr, "varco %s: warning: %s is open to other users (mode %04o): the private key is in it\n", cmd, out, fi.Mode().Perm())
	}
	certFile, keyFile := filepath.Join(out, name+".crt"), filepath.Join(out, name+".key")
	if !force {
		for _, f := range []string{certFile, keyFile} {
			if _, err := os.Lstat(f); err == nil {
				return "", fmt.Errorf("%s exists: --force replaces it (the old certificate stays valid: %s)", f, revoke)
			}
		}
	}
	pub := wire.EncodePublicKey(siteKey.Public().(ed25519.PublicKey))
	// The key first: a directory with the new certificate has its key.
	for _, f := range []struct {
		path string
		data []byte
		perm os.FileMode
	}{
		{keyFile, keyPEM, 0o600},
		{certFile, certPEM, 0o644},
		{filepath.Join(out, "ca.crt"), ca.CertPEM(), 0o644},
		{filepath.Join(out, "site.pub"), []byte(pub + "\n"), 0o644},
	} {
		if err := atomicfile.WriteFile(f.path, f.data, f.perm); err != nil {
			return "", err
		}
	}
	return pub, nil
}

// caSite is the site a CA made by sitepki.NewCA names in its subject
// ("Varco site <site> MQTT CA"), or varco-admin's default site.
func caSite(ca *sitepki.CA) string {
	cn := ca.Certificate().Subject.CommonName
	if s, ok := strings.CutPrefix(cn, "Varco site "); ok {
		if s, ok := strings.CutSuffix(s, " MQTT CA"); ok && wire.ValidID(s) {
			return s
		}
	}
	return config.DefaultMQTTSite
}

// checkBrokerURL accepts MQTT over TLS with a host and a port.
func checkBrokerURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return err
	case u.Scheme != "mqtts" && u.Scheme != "ssl" && u.Scheme != "tls" && u.Scheme != "tcps":
		return errors.New("want MQTT over TLS: mqtts://host:8883")
	case u.Hostname() == "" || u.Port() == "":
		return errors.New("want mqtts://host:port")
	}
	return nil
}

// provisionArgs are the command line of 'door provision' and 'station
// provision'.
type provisionArgs struct {
	dataDir, id, broker, site, out string
	force                          bool
}

// parseProvision parses the flags both provision commands share; what
// ("door" or "station") names the id flag and the messages.
func parseProvision(e *env, what, idHelp string, args []string) (*provisionArgs, error) {
	fset := e.newFlags(what+" provision", "--data-dir DIR --"+what+" ID [--broker URL] [--site S] [--force] -out DIR")
	var p provisionArgs
	fset.StringVar(&p.dataDir, "data-dir", "/var/lib/varco-admin", "varco-admin's data_dir, which holds the site key and the MQTT CA")
	fset.StringVar(&p.id, what, "", idHelp)
	fset.StringVar(&p.broker, "broker", "", "the broker URL the "+what+" dials (default mqtts://<this host>:8883)")
	fset.StringVar(&p.site, "site", "", "the site id of the topics (varco-admin's mqtt.site; default: the site the CA was made for)")
	fset.StringVar(&p.out, "out", "", "directory to write the files into (created with mode 0700)")
	fset.BoolVar(&p.force, "force", false, "replace the "+what+"'s certificate and key if the directory has them")
	if err := parse(fset, args); err != nil {
		return nil, err
	}
	if p.out == "" || p.id == "" || fset.NArg() > 0 {
		fset.Usage()
		return nil, fmt.Errorf("%w: --%s ID and -out DIR are required and no other arguments are taken", errUsage, what)
	}
	if !wire.ValidID(p.id) {
		return nil, fmt.Errorf("%w: --%s %q: want 1 to %d ASCII letters, digits, '.', '_' or '-'", errUsage, what, p.id, wire.MaxIDLength)
	}
	if p.site != "" && !wire.ValidID(p.site) {
		return nil, fmt.Errorf("%w: --site %q: want 1 to %d ASCII letters, digits, '.', '_' or '-'", errUsage, p.site, wire.MaxIDLength)
	}
	if p.broker == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "localhost"
		}
		p.broker = "mqtts://" + host + ":8883"
	} else if err := checkBrokerURL(p.broker); err != nil {
		return nil, fmt.Errorf("%w: --broker %q: %v", errUsage, p.broker, err)
	}
	return &p, nil
}
