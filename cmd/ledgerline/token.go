package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/adapters/httpapi"
	"github.com/ledgerline/ledgerline/domain/operator"
	"github.com/ledgerline/ledgerline/eventstore"
)

// runToken issues and revokes operator tokens directly in the log (the
// server picks them up within a second). With the embedded store the server
// holds the data directory's lock: stop it, or use POST /v1/tokens.
func runToken(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(out, "Usage: ledgerline token issue --role ROLE [--account ID] [--expires DURATION] | token revoke TOKEN_ID")
		fmt.Fprintln(out, "Roles: admin, compliance, auditor, gateway, customer (customer needs --account).")
		return nil
	}
	switch args[0] {
	case "issue":
		return runTokenIssue(ctx, args[1:], out)
	case "revoke":
		return runTokenRevoke(ctx, args[1:], out)
	}
	return fmt.Errorf("unknown token command %q (want issue or revoke)", args[0])
}

func runTokenIssue(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("token issue", "token issue --role ROLE [--account ID] [--expires DURATION] [flags]")
	sf := addStorageFlags(fs)
	roleS := fs.String("role", "", "admin, compliance, auditor, gateway or customer (required)")
	acct := fs.String("account", "", "the account a customer token is bound to")
	expires := fs.Duration("expires", 0, "lifetime, e.g. 720h (default: no expiry)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	role, err := operator.ParseRole(*roleS)
	if err != nil {
		return errors.New("--role must be one of admin, compliance, auditor, gateway, customer")
	}
	p := operator.IssueParams{Role: role, IssuedBy: operator.IssuerCLI}
	if *acct != "" {
		if p.AccountID, err = uuid.Parse(*acct); err != nil {
			return errors.New("--account must be an account id (UUID)")
		}
	}
	if *expires < 0 {
		return errors.New("--expires must be positive")
	}
	if *expires > 0 {
		t := time.Now().Add(*expires).UTC()
		p.ExpiresAt = &t
	}
	b, err := openBackendForCLI(ctx, sf)
	if err != nil {
		return err
	}
	defer b.Close()
	w := httpapi.TokenWriter{Store: b.store, Codec: b.codec, Rand: rand.Reader}
	res, _, err := w.Issue(ctx, p, eventstore.Metadata{Actor: "cli", ActorRole: "operator"}, false)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "token_id: %s\nrole: %s\n", res.Token.ID, res.Token.Role)
	if p.AccountID != uuid.Nil {
		fmt.Fprintf(out, "account_id: %s\n", p.AccountID)
	}
	fmt.Fprintf(out, "secret (shown once): %s\n", res.Secret)
	return nil
}

func runTokenRevoke(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("token revoke", "token revoke TOKEN_ID [flags]")
	sf := addStorageFlags(fs)
	// accept the id before or after the flags
	var idArg string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		idArg, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if idArg == "" && fs.NArg() > 0 {
		idArg = fs.Arg(0)
	}
	id, err := uuid.Parse(idArg)
	if err != nil {
		return errors.New("token revoke needs a token id (UUID)")
	}
	b, err := openBackendForCLI(ctx, sf)
	if err != nil {
		return err
	}
	defer b.Close()
	w := httpapi.TokenWriter{Store: b.store, Codec: b.codec, Rand: rand.Reader}
	if _, _, err := w.Revoke(ctx, id, operator.IssuerCLI, eventstore.Metadata{Actor: "cli", ActorRole: "operator"}); err != nil {
		if errors.Is(err, operator.ErrTokenNotFound) {
			return fmt.Errorf("no token %s", id)
		}
		return err
	}
	fmt.Fprintf(out, "revoked %s\n", id)
	return nil
}

func openBackendForCLI(ctx context.Context, sf storageFlags) (*backend, error) {
	b, err := openBackend(ctx, sf)
	if err != nil && strings.Contains(err.Error(), "locked by another") {
		return nil, fmt.Errorf("%w\n(the server holds the embedded store: stop it first, or issue tokens with POST /v1/tokens)", err)
	}
	return b, err
}
