package sitepki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"

	"github.com/varco-access/varco/wire"
)

// Validity periods. Certificates start an hour before the time they are
// made (Backdate) so that a peer whose clock is slightly behind accepts
// them, and never outlive the CA.
const (
	CAValidity   = 10 * 365 * 24 * time.Hour
	LeafValidity = 2 * 365 * 24 * time.Hour
	Backdate     = time.Hour
)

// PEM block types of the files the package writes and reads.
const (
	pemCert = "CERTIFICATE"
	pemKey  = "PRIVATE KEY" // PKCS#8
)

// CA is a site's MQTT certificate authority: it signs the broker's server
// certificate and every client's certificate. Its methods are safe for
// concurrent use.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     *ecdsa.PrivateKey
}

// NewCA makes a new self-signed CA for site (a wire.ValidID), valid
// CAValidity from now: ECDSA P-256, subject "Varco site <site> MQTT CA",
// key usage CertSign and CRLSign, a CA that may sign only leaf
// certificates (MaxPathLen 0).
func NewCA(site string, now time.Time) (*CA, error) {
	if !wire.ValidID(site) {
		return nil, fmt.Errorf("sitepki: new CA: invalid site id %q", clip(site))
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sitepki: new CA: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, fmt.Errorf("sitepki: new CA: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Varco site " + site + " MQTT CA", Organization: []string{"Varco"}},
		NotBefore:             now.Add(-Backdate),
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("sitepki: new CA: %w", err)
	}
	return newCA(der, key)
}

func newCA(der []byte, key *ecdsa.PrivateKey) (*CA, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{
		cert:    cert,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: pemCert, Bytes: der}),
		key:     key,
	}, nil
}

// Certificate returns the CA certificate. The caller must not modify it.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// CertPEM returns the CA certificate in PEM: what every client and the
// broker trust (Mosquitto's cafile, the door's ca_file).
func (ca *CA) CertPEM() []byte { return append([]byte(nil), ca.certPEM...) }

// CertPool returns a new pool holding only the CA certificate.
func (ca *CA) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// ServerCert issues the broker's certificate for hosts, each a DNS name or
// an IP address (the names clients dial: "localhost", "127.0.0.1",
// "mqtt.example.org"), valid LeafValidity from now, for server
// authentication only. It returns the certificate and its PKCS#8 private
// key in PEM.
func (ca *CA) ServerCert(hosts []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	if len(hosts) == 0 {
		return nil, nil, errors.New("sitepki: server certificate: no host names")
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: hosts[0], Organization: []string{"Varco"}},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		switch ip := net.ParseIP(h); {
		case ip != nil:
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		case h != "":
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		default:
			return nil, nil, errors.New("sitepki: server certificate: empty host name")
		}
	}
	certPEM, keyPEM, err = ca.issue(tmpl, now)
	if err != nil {
		return nil, nil, fmt.Errorf("sitepki: server certificate for %v: %w", hosts, err)
	}
	return certPEM, keyPEM, nil
}

// ClientCert issues a client certificate whose Common Name is identity
// (AdminIdentity, DoorIdentity(d) or StationIdentity(s): it is the MQTT
// user name the broker gives the client), valid LeafValidity from now, for
// client authentication only. It returns the certificate and its PKCS#8
// private key in PEM. An identity ParseIdentity refuses is an error.
func (ca *CA) ClientCert(identity string, now time.Time) (certPEM, keyPEM []byte, err error) {
	if _, _, err := ParseIdentity(identity); err != nil {
		return nil, nil, fmt.Errorf("sitepki: client certificate: %w", err)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: identity, Organization: []string{"Varco"}},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	certPEM, keyPEM, err = ca.issue(tmpl, now)
	if err != nil {
		return nil, nil, fmt.Errorf("sitepki: client certificate for %q: %w", identity, err)
	}
	return certPEM, keyPEM, nil
}

// issue fills in the key, serial and validity of tmpl and signs it.
func (ca *CA) issue(tmpl *x509.Certificate, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	if tmpl.SerialNumber, err = newSerial(); err != nil {
		return nil, nil, err
	}
	tmpl.NotBefore = now.Add(-Backdate)
	tmpl.NotAfter = now.Add(LeafValidity)
	if tmpl.NotAfter.After(ca.cert.NotAfter) {
		tmpl.NotAfter = ca.cert.NotAfter
	}
	tmpl.BasicConstraintsValid = true
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemCert, Bytes: der}), keyPEM, nil
}

// ServerTLSConfig returns the broker's TLS configuration: the server
// certificate and key, and mandatory client certificates verified against
// caPEM (tls.RequireAndVerifyClientCert; crypto/tls also requires the
// client-authentication key usage), TLS 1.2 at least.
func ServerTLSConfig(certPEM, keyPEM, caPEM []byte) (*tls.Config, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("sitepki: server TLS: %w: %w", ErrBadPEM, err)
	}
	pool, err := pool(caPEM)
	if err != nil {
		return nil, fmt.Errorf("sitepki: server TLS: %w", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// ClientTLSConfig returns an MQTT client's TLS configuration: its client
// certificate and key, the broker verified against caPEM alone (not the
// system roots), TLS 1.2 at least. serverName is the name to verify the
// broker's certificate against; empty means the host part of the address
// dialled (what crypto/tls does when Dial is given no ServerName).
func ClientTLSConfig(certPEM, keyPEM, caPEM []byte, serverName string) (*tls.Config, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("sitepki: client TLS: %w: %w", ErrBadPEM, err)
	}
	pool, err := pool(caPEM)
	if err != nil {
		return nil, fmt.Errorf("sitepki: client TLS: %w", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ServerName:   serverName,
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// pool parses a PEM bundle of CA certificates.
func pool(caPEM []byte) (*x509.CertPool, error) {
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("%w: no CA certificate in the CA PEM", ErrBadPEM)
	}
	return p, nil
}

// newSerial returns a random positive 127-bit serial number (RFC 5280
// section 4.1.2.2: at most 20 octets).
func newSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func encodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemKey, Bytes: der}), nil
}
