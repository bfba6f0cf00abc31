package broker_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/varco-access/varco/wire/broker"
	"github.com/varco-access/varco/wire/sitepki"
)

// How varco-admin runs the embedded broker: the site CA from its data
// directory (made on first start), a server certificate, and the broker
// on the configured address.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "varco-example")
	defer os.RemoveAll(dir)
	pki := filepath.Join(dir, "mqtt-ca")

	ca, err := sitepki.LoadCA(pki)
	if err != nil { // first start: make the site CA
		if ca, err = sitepki.NewCA("demo", time.Now()); err != nil {
			log.Fatal(err)
		}
		if err := ca.Save(pki); err != nil {
			log.Fatal(err)
		}
	}
	cert, key, err := ca.ServerCert([]string{"localhost", "127.0.0.1"}, time.Now())
	if err != nil {
		log.Fatal(err)
	}
	tlsConfig, err := sitepki.ServerTLSConfig(cert, key, ca.CertPEM())
	if err != nil {
		log.Fatal(err)
	}
	b, err := broker.New(broker.Options{Listen: "127.0.0.1:0", TLS: tlsConfig, Site: "demo"})
	if err != nil {
		log.Fatal(err)
	}
	if err := b.Start(); err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	// Each door gets a certificate for its identity (and the CA
	// certificate, to check the broker's).
	doorCert, _, err := ca.ClientCert(sitepki.DoorIdentity("demo-1"), time.Now())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(doorCert) > 0)
	fmt.Println(broker.Allow("demo", "door:demo-1", "varco/v1/demo/door/demo-1/events", true))
	fmt.Println(broker.Allow("demo", "door:demo-1", "varco/v1/demo/door/demo-2/grants", false))
	// Output:
	// true
	// true
	// false
}
