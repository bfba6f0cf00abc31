package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/controller/store"
	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/reader/testpki"
	"github.com/varco-access/varco/reader/virtcie"
)

// defaultVPCD is the first reader of Debian's vsmartcard-vpcd driver.
const defaultVPCD = "127.0.0.1:35963"

func cardPKI(e *env, args []string) error {
	fs := e.newFlags("card pki", "-out DIR")
	out := fs.String("out", "", "directory to write the test PKI into (created)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("%w: -out DIR is required and no other arguments are taken", errUsage)
	}
	p, err := testpki.Generate(rand.Reader)
	if err != nil {
		return err
	}
	if err := p.Save(*out); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "test PKI written to %s (trusted CSCA set: %s/trusted)\n", *out, *out)
	return nil
}

func parseGen(s string) (reader.Generation, error) {
	switch s {
	case "2016":
		return reader.Gen2016, nil
	case "2022":
		return reader.Gen2022, nil
	}
	return 0, fmt.Errorf("%w: --gen %q: want 2016 or 2022", errUsage, s)
}

func cardNew(e *env, args []string) error {
	fs := e.newFlags("card new", "--nis N --gen 2016|2022 [--negative NAME] [--quirks LIST] [--pki DIR] -out FILE")
	nis := fs.String("nis", "", "NIS of the card: 12 digits")
	gen := fs.String("gen", "2022", "card generation: 2016 (SHA-256, PKCS#1 v1.5) or 2022 (SHA-512, RSASSA-PSS)")
	negNames := make([]string, 0)
	for _, n := range virtcie.Negatives() {
		negNames = append(negNames, n.String())
	}
	neg := fs.String("negative", "genuine", "what is wrong with the card: "+strings.Join(negNames, ", "))
	quirks := fs.String("quirks", "", "card quirks, comma-separated: "+virtcie.QuirkNames())
	pkiDir := fs.String("pki", "testdata/pki", "test PKI directory (from 'varco card pki')")
	cloneOf := fs.String("clone-of", "", "with --negative clone: the card file to clone (NIS, key file, EF.SOD)")
	out := fs.String("out", "", "card file to write")
	asJSON := fs.Bool("json", false, "print the new card's identity as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("%w: -out FILE is required and no other arguments are taken", errUsage)
	}
	g, err := parseGen(*gen)
	if err != nil {
		return err
	}
	n, err := virtcie.ParseNegative(*neg)
	if err != nil {
		return fmt.Errorf("%w: --negative: %v", errUsage, err)
	}
	q, err := virtcie.ParseQuirks(*quirks)
	if err != nil {
		return fmt.Errorf("%w: --quirks: %v", errUsage, err)
	}
	opts := virtcie.Options{NIS: *nis, Gen: g, Negative: n, Quirks: q}
	if *cloneOf != "" {
		if n != virtcie.Clone {
			return fmt.Errorf("%w: --clone-of needs --negative clone", errUsage)
		}
		orig, err := virtcie.Load(*cloneOf)
		if err != nil {
			return err
		}
		opts.CloneOf = orig
	} else {
		if err := reader.CheckNIS([]byte(*nis)); err != nil {
			return fmt.Errorf("%w: --nis %q: %v", errUsage, *nis, err)
		}
		p, err := testpki.Load(*pkiDir)
		if err != nil {
			return fmt.Errorf("load the test PKI (create one with 'varco card pki -out %s'): %w", *pkiDir, err)
		}
		opts.PKI = p
	}
	c, err := virtcie.New(opts)
	if err != nil {
		return err
	}
	if err := c.Save(*out); err != nil {
		return err
	}
	sum := sha256.Sum256(c.KeyFileTLV())
	if *asJSON {
		return writeJSON(e.stdout, map[string]string{
			"file": *out, "nis": c.NIS(), "generation": c.Generation().String(),
			"negative": c.Negative().String(), "quirks": c.Quirks().String(),
			"key_sha256": hex.EncodeToString(sum[:]),
		})
	}
	fmt.Fprintf(e.stdout, "%s: NIS %s, generation %s, %s, key SHA-256 %x\n", *out, c.NIS(), c.Generation(), c.Negative(), sum[:])
	return nil
}

func cardServe(e *env, args []string) error {
	fs := e.newFlags("card serve", "--card FILE [--vpcd ADDR] [--quirks LIST]")
	file := fs.String("card", "", "card file (from 'varco card new')")
	addr := fs.String("vpcd", defaultVPCD, "address of pcscd's vpcd driver (35963 and 35964 are its two readers)")
	quirks := fs.String("quirks", "", "override the card file's quirks: "+virtcie.QuirkNames())
	if err := parse(fs, args); err != nil {
		return err
	}
	if *file == "" || fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("%w: --card FILE is required", errUsage)
	}
	c, err := virtcie.Load(*file)
	if err != nil {
		return err
	}
	if *quirks != "" {
		q, err := virtcie.ParseQuirks(*quirks)
		if err != nil {
			return fmt.Errorf("%w: --quirks: %v", errUsage, err)
		}
		c.SetQuirks(q)
	}
	fmt.Fprintf(e.stderr, "serving card NIS %s (%s, %s, quirks %q) on vpcd %s; Ctrl-C removes it\n",
		c.NIS(), c.Generation(), c.Negative(), c.Quirks().String(), *addr)
	err = virtcie.Serve(e.ctx, *addr, c)
	if err != nil && !errors.Is(err, e.ctx.Err()) {
		return err
	}
	return nil
}

// cardAllowlist writes a door allowlist file (the JSON snapshot that
// `varco-door -import` applies) granting the given virtual cards at any
// time: a door's allowlist without an admin server, for demos and bench
// setups.
func cardAllowlist(e *env, args []string) error {
	fs := e.newFlags("card allowlist", "--door ID [--rev N] -out FILE CARD-FILE...")
	door := fs.String("door", "", "door id, as in the controller's [[doors]] id")
	rev := fs.Uint64("rev", 1, "allowlist revision (must be above the door's current one)")
	out := fs.String("out", "", "allowlist file to write")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *door == "" || *out == "" || fs.NArg() == 0 || *rev == 0 {
		fs.Usage()
		return fmt.Errorf("%w: --door, -out, a --rev of at least 1 and one or more card files are required", errUsage)
	}
	snap := store.Snapshot{Door: *door, Rev: *rev}
	for _, path := range fs.Args() {
		c, err := virtcie.Load(path)
		if err != nil {
			return err
		}
		name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		g := varco.Grant{NIS: c.NIS(), PersonID: name, DisplayName: name, PublicKey: c.KeyFileTLV(), Flags: varco.FlagAlways}
		if err := g.Validate(); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		snap.Grants = append(snap.Grants, g)
	}
	b, err := json.MarshalIndent(snap, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, append(b, '\n'), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: door %s, rev %d, %d grants\n", *out, *door, *rev, len(snap.Grants))
	return nil
}
