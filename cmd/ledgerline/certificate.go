package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/ledgerline/ledgerline/domain/privacy/certificate"
)

// runCertificate dispatches `ledgerline certificate verify|public-key|render`.
func runCertificate(ctx context.Context, args []string, out io.Writer) error {
	subs := map[string]func(context.Context, []string, io.Writer) error{
		"verify":     runCertificateVerify,
		"public-key": runCertificatePublicKey,
		"render":     runCertificateRender,
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(out, `Usage: ledgerline certificate <command> [flags]  (every command takes --help)

Commands:
  verify FILE --public-key KEY|--public-key-file F   check a proof-of-deletion certificate offline
  public-key [--keyring F] [--data-dir D]            print the certificate signing public key
  render FILE [--out F] [--public-key KEY]           write a readable HTML page of a certificate
`)
		if len(args) == 0 {
			return errors.New("certificate needs a command: verify | public-key | render")
		}
		return nil
	}
	run, ok := subs[args[0]]
	if !ok {
		return fmt.Errorf("unknown certificate command %q (want verify, public-key or render)", args[0])
	}
	return run(ctx, args[1:], out)
}

// publicKeyFlags are --public-key and --public-key-file.
type publicKeyFlags struct{ text, file string }

func addPublicKeyFlags(fs *flag.FlagSet) *publicKeyFlags {
	pf := &publicKeyFlags{}
	fs.StringVar(&pf.text, "public-key", "", "issuer's public `KEY`, "+certificate.PublicKeyPrefix+"<base64> (from ledgerline certificate public-key)")
	fs.StringVar(&pf.file, "public-key-file", "", "`FILE` holding the issuer's public key")
	return pf
}

// given reports whether either flag was set.
func (pf *publicKeyFlags) given() bool { return pf.text != "" || pf.file != "" }

func (pf *publicKeyFlags) load() (ed25519.PublicKey, error) {
	switch {
	case pf.text != "" && pf.file != "":
		return nil, errors.New("give either --public-key or --public-key-file, not both")
	case pf.text != "":
		return certificate.ParsePublicKey(pf.text)
	case pf.file != "":
		b, err := readLimited(pf.file, 4096)
		if err != nil {
			return nil, err
		}
		pub, err := certificate.ParsePublicKey(string(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", pf.file, err)
		}
		return pub, nil
	}
	return nil, errors.New("the issuer's public key is required: --public-key or --public-key-file")
}

func runCertificateVerify(_ context.Context, args []string, out io.Writer) error {
	fs := newFlags("certificate verify", "certificate verify FILE --public-key KEY | --public-key-file F\n\n"+
		"Checks a proof-of-deletion certificate offline: its signature with the issuer's public key,\n"+
		"its exact bytes (any altered byte fails) and its content. Exit status 0 only when it verifies.")
	pf := addPublicKeyFlags(fs)
	file, err := parseOneArg(fs, args, "FILE")
	if err != nil {
		return err
	}
	pub, err := pf.load()
	if err != nil {
		return err
	}
	data, err := readLimited(file, certificate.MaxFileSize)
	if err != nil {
		return err
	}
	c, err := certificate.Verify(data, pub)
	if err != nil {
		return fmt.Errorf("certificate %s does NOT verify: %w", file, err)
	}
	_, err = fmt.Fprintf(out, "OK: certificate %s verifies (Ed25519 key %s): request %s, subject %s, completed %s, chain head %d %s\n",
		c.ID, c.Signer.PublicKeyID, c.Request.ID, c.SubjectPseudonym,
		c.Request.CompletedAt.Format("2006-01-02T15:04:05Z07:00"), c.ChainHead.Position, c.ChainHead.Hash)
	return err
}

func runCertificatePublicKey(_ context.Context, args []string, out io.Writer) error {
	fs := newFlags("certificate public-key", "certificate public-key [--keyring F] [--data-dir D]\n\n"+
		"Prints the public half of the keyring's certificate signing key; give it to whoever\n"+
		"must verify certificates or checkpoints.")
	kf := addKeyringFlag(fs)
	dataDir := fs.String("data-dir", "", fmt.Sprintf("data directory holding the keyring (env %s; default %s)", envDataDir, storeDefaultDataDir))
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	kr, err := kf.openExisting(envOr(*dataDir, envDataDir, storeDefaultDataDir))
	if err != nil {
		return err
	}
	pub, ok := kr.SigningKey().Public().(ed25519.PublicKey)
	if !ok {
		return errors.New("keyring signing key is not Ed25519")
	}
	_, err = fmt.Fprintln(out, certificate.FormatPublicKey(pub))
	return err
}

func runCertificateRender(_ context.Context, args []string, out io.Writer) error {
	fs := newFlags("certificate render", "certificate render FILE [--out F] [--public-key KEY | --public-key-file F]\n\n"+
		"Writes a readable HTML page of a certificate. With a public key the certificate is verified\n"+
		"first and nothing is written unless it verifies; without one only its form is checked.")
	pf := addPublicKeyFlags(fs)
	outFile := fs.String("out", "", "write the page to `FILE` instead of standard output")
	file, err := parseOneArg(fs, args, "FILE")
	if err != nil {
		return err
	}
	data, err := readLimited(file, certificate.MaxFileSize)
	if err != nil {
		return err
	}
	var c certificate.Certificate
	if pf.given() {
		pub, err := pf.load()
		if err != nil {
			return err
		}
		if c, err = certificate.Verify(data, pub); err != nil {
			return fmt.Errorf("certificate %s does NOT verify: %w", file, err)
		}
	} else {
		p, err := certificate.Parse(data)
		if err != nil {
			return fmt.Errorf("certificate %s: %w", file, err)
		}
		c = p.Certificate
	}
	page := certificate.RenderHTML(c)
	if *outFile == "" {
		_, err = out.Write(page)
		return err
	}
	if err := os.WriteFile(*outFile, page, 0o644); err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "wrote %s\n", *outFile)
	return err
}

// envOr returns v, else the environment variable's value, else def.
func envOr(v, env, def string) string {
	if v != "" {
		return v
	}
	return envDefault(env, def)
}

// readLimited reads a whole file, refusing one larger than limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return data, nil
}

// parseArgs parses flags placed before, between or after positional
// arguments (the flag package alone stops at the first positional one);
// everything after "--" is positional.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// parseOneArg parses flags around exactly one positional argument.
func parseOneArg(fs *flag.FlagSet, args []string, name string) (string, error) {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		fs.Usage()
		return "", fmt.Errorf("want exactly one %s argument, got %d", name, len(pos))
	}
	return pos[0], nil
}

// parseNoArgs parses flags and refuses positional arguments.
func parseNoArgs(fs *flag.FlagSet, args []string) error {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	return nil
}
