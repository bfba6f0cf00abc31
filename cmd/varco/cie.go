package main

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/varco-access/varco/reader"
)

// errCheckFailed marks a verification that ran and said no; the report has
// already been printed.
var errCheckFailed = errors.New("check failed")

// checks maps each verification sentinel to the name printed for it.
var checks = []struct {
	err  error
	name string
}{
	{reader.ErrChallengeSignature, "challenge signature invalid"},
	{reader.ErrSODSignature, "bad signature"},
	{reader.ErrSODDigest, "digest mismatch"},
	{reader.ErrUnknownCSCA, "unknown CSCA"},
	{reader.ErrDSExpired, "expired DS"},
	{reader.ErrCSCAExpired, "expired CSCA"},
	{reader.ErrDSCertSignature, "DS certificate signature invalid"},
	{reader.ErrSignerMismatch, "signer does not match DS certificate"},
	{reader.ErrNISHash, "NIS hash mismatch"},
	{reader.ErrKeyHash, "key hash mismatch"},
	{reader.ErrDataGroupMissing, "data group missing"},
	{reader.ErrSODUnsupportedAlgorithm, "unsupported algorithm"},
	{reader.ErrSODTruncated, "SOD truncated"},
	{reader.ErrSODFormat, "SOD malformed"},
	{reader.ErrNISFormat, "NIS malformed"},
	{reader.ErrKeyFile, "key file malformed"},
}

// checkName names the failed check err stands for, or "" if it is not a
// verification failure.
func checkName(err error) string {
	for _, c := range checks {
		if errors.Is(err, c.err) {
			return c.name
		}
	}
	return ""
}

// sodReport is the passive authentication part of a report.
type sodReport struct {
	Valid       bool   `json:"valid"`
	Generation  string `json:"generation,omitempty"`
	Digest      string `json:"digest,omitempty"`
	Signature   string `json:"signature_algorithm,omitempty"`
	DSSubject   string `json:"ds_subject,omitempty"`
	DSSerial    string `json:"ds_serial,omitempty"`
	CSCASubject string `json:"csca_subject,omitempty"`
	NISChecked  bool   `json:"nis_checked"`
	KeyChecked  bool   `json:"key_checked"`
	FailedCheck string `json:"failed_check,omitempty"`
	Error       string `json:"error,omitempty"`
}

func newSODReport(res *reader.SODResult, err error, nisChecked, keyChecked bool) *sodReport {
	r := &sodReport{NISChecked: nisChecked, KeyChecked: keyChecked}
	if err != nil {
		r.FailedCheck = checkName(err)
		r.Error = err.Error()
		return r
	}
	r.Valid = true
	r.Generation = res.Generation.String()
	r.Digest = res.Hash.String()
	r.Signature = res.SignatureAlgorithm
	r.DSSubject = res.DSSubject
	r.DSSerial = res.DSSerial
	r.CSCASubject = res.CSCASubject
	return r
}

func (r *sodReport) print(w io.Writer) {
	if !r.Valid {
		fmt.Fprintf(w, "EF.SOD:      FAILED: %s (%s)\n", r.FailedCheck, r.Error)
		return
	}
	fmt.Fprintf(w, "EF.SOD:      valid, generation %s (%s, %s)\n", r.Generation, r.Digest, r.Signature)
	fmt.Fprintf(w, "  signer:    %s, serial %s\n", r.DSSubject, r.DSSerial)
	fmt.Fprintf(w, "  CSCA:      %s\n", r.CSCASubject)
	fmt.Fprintf(w, "  NIS hash:  %s\n", checked(r.NISChecked))
	fmt.Fprintf(w, "  key hash:  %s\n", checked(r.KeyChecked))
}

func checked(b bool) string {
	if b {
		return "matches"
	}
	return "not checked"
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func loadCSCAs(dir string) ([]*x509.Certificate, error) {
	certs, err := reader.LoadCSCAs(dir)
	if err != nil {
		return nil, fmt.Errorf("--csca %s: %w", dir, err)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("--csca %s: no certificates found", dir)
	}
	return certs, nil
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Now(), nil
	}
	for _, layout := range []string{time.RFC3339, time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: --at %q: want YYYY-MM-DD or RFC 3339", errUsage, s)
}

func cieVerifySOD(e *env, args []string) error {
	fs := e.newFlags("cie verify-sod", "--csca DIR [--nis N] [--pubkey FILE] [--at DATE] [--json] FILE")
	csca := fs.String("csca", "", "directory of trusted CSCA certificates (DER or PEM, one or more per file)")
	nis := fs.String("nis", "", "check data group A1 against this NIS (12 digits)")
	pubFile := fs.String("pubkey", "", "check data group A5 against this EF.Servizi_Int.Kpub file (DER RSAPublicKey)")
	at := fs.String("at", "", "verify as of this date (YYYY-MM-DD or RFC 3339; default now)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *csca == "" || fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("%w: --csca DIR and one EF.SOD file are required", errUsage)
	}
	when, err := parseTime(*at)
	if err != nil {
		return err
	}
	anchors, err := loadCSCAs(*csca)
	if err != nil {
		return err
	}
	sod, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	opts := reader.VerifyOptions{CSCAs: anchors, Time: when}
	if *nis != "" {
		if err := reader.CheckNIS([]byte(*nis)); err != nil {
			return fmt.Errorf("%w: --nis: %v", errUsage, err)
		}
		opts.NIS = []byte(*nis)
	}
	if *pubFile != "" {
		b, err := os.ReadFile(*pubFile)
		if err != nil {
			return err
		}
		_, der, err := reader.ParsePublicKeyFile(b)
		if err != nil {
			return fmt.Errorf("--pubkey %s: %w", *pubFile, err)
		}
		opts.PublicKeyFile = der
	}
	res, verr := reader.VerifySOD(sod, opts)
	rep := newSODReport(res, verr, opts.NIS != nil, opts.PublicKeyFile != nil)
	if *asJSON {
		if err := writeJSON(e.stdout, rep); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(e.stdout, "file:        %s (%d bytes)\n", fs.Arg(0), len(sod))
		rep.print(e.stdout)
	}
	if verr != nil {
		return fmt.Errorf("%w: %s: %v", errCheckFailed, rep.FailedCheck, verr)
	}
	return nil
}

// readReport is what 'varco cie read' prints.
type readReport struct {
	Reader      string     `json:"reader"`
	NIS         string     `json:"nis,omitempty"`
	KeySHA256   string     `json:"key_sha256,omitempty"`
	Challenge   string     `json:"challenge,omitempty"`
	SignatureOK bool       `json:"challenge_signature_valid"`
	SOD         *sodReport `json:"sod,omitempty"`
	OK          bool       `json:"ok"`
	FailedCheck string     `json:"failed_check,omitempty"`
	Error       string     `json:"error,omitempty"`
	Millis      float64    `json:"read_ms,omitempty"`
}

// readOptions are the flags of 'varco cie read' that shape one read.
type readOptions struct {
	full    bool
	anchors []*x509.Certificate
	at      time.Time
}

// readCard performs the enrolment read on t and verifies what came back:
// the challenge signature with the card's own key, and with full also
// passive authentication of EF.SOD binding NIS and key. The returned error
// is non-nil when any check failed; rep says which.
func readCard(t reader.Transmitter, name string, o readOptions) (*readReport, error) {
	rep := &readReport{Reader: name}
	start := time.Now()
	method := reader.SODAuto
	var (
		r   *reader.EnrolRead
		err error
	)
	if o.full {
		r, err = reader.ReadEnrol(t, &reader.EnrolOptions{SODMethod: method})
	} else {
		r, err = readKeyAndChallenge(t)
	}
	rep.Millis = float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		return rep.fail(err)
	}
	rep.NIS = r.NIS
	sum := sha256.Sum256(r.KeyFile)
	rep.KeySHA256 = hex.EncodeToString(sum[:])
	rep.Challenge = hex.EncodeToString(r.Challenge)
	if err := reader.VerifyChallenge(r.PublicKey, r.Challenge, r.Signature); err != nil {
		return rep.fail(err)
	}
	rep.SignatureOK = true
	if o.full {
		res, err := reader.VerifySOD(r.SOD, reader.VerifyOptions{
			CSCAs: o.anchors, Time: o.at, NIS: []byte(r.NIS), PublicKeyFile: r.KeyFile,
		})
		rep.SOD = newSODReport(res, err, true, true)
		if err != nil {
			return rep.fail(err)
		}
	}
	rep.OK = true
	return rep, nil
}

// readKeyAndChallenge is the read without EF.SOD: NIS, key file and the
// challenge. It is ReadEnrol's work minus the SOD, done with the public
// protocol functions so it stays in step with them.
func readKeyAndChallenge(t reader.Transmitter) (*reader.EnrolRead, error) {
	return reader.ReadEnrol(t, &reader.EnrolOptions{SkipSOD: true})
}

func (r *readReport) fail(err error) (*readReport, error) {
	r.FailedCheck = checkName(err)
	r.Error = err.Error()
	return r, err
}

func (r *readReport) print(w io.Writer) {
	fmt.Fprintf(w, "reader:      %s\n", r.Reader)
	if r.NIS != "" {
		fmt.Fprintf(w, "NIS:         %s\n", r.NIS)
	}
	if r.KeySHA256 != "" {
		fmt.Fprintf(w, "key SHA-256: %s\n", r.KeySHA256)
	}
	if r.KeySHA256 != "" {
		if r.SignatureOK {
			fmt.Fprintf(w, "challenge:   signature valid (card holds the private key)\n")
		} else if r.SOD == nil {
			fmt.Fprintf(w, "challenge:   FAILED: %s\n", r.FailedCheck)
		}
	}
	if r.SOD != nil {
		r.SOD.print(w)
	}
	if r.OK {
		fmt.Fprintf(w, "result:      OK (%.1f ms)\n", r.Millis)
		return
	}
	what := r.FailedCheck
	if what == "" {
		what = "read failed"
	}
	fmt.Fprintf(w, "result:      FAILED: %s\n  %s\n", what, strings.TrimPrefix(r.Error, "reader: "))
}
