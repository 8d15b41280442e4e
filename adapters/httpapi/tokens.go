package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/operator"
	"github.com/ledgerline/ledgerline/eventstore"
)

// TokenIndex is the in-memory read model of operator tokens: SHA-256 of the
// secret → token, built from the operator-tokens stream and kept up to date
// by Run. It never holds a secret. Safe for concurrent use.
type TokenIndex struct {
	store eventstore.Store
	codec *eventstore.Codec
	now   func() time.Time

	mu      sync.RWMutex
	set     *operator.Tokens
	byHash  map[string]uuid.UUID
	version uint64 // events of the stream applied
	moved   chan struct{}

	refreshMu   sync.Mutex // one refresh at a time
	lastRefresh time.Time
}

// NewTokenIndex returns an index over store; call Refresh or Run to fill it.
func NewTokenIndex(store eventstore.Store, codec *eventstore.Codec, now func() time.Time) (*TokenIndex, error) {
	if store == nil || codec == nil {
		return nil, errors.New("httpapi: token index needs a store and a codec")
	}
	if now == nil {
		now = time.Now
	}
	return &TokenIndex{store: store, codec: codec, now: now, set: operator.RehydrateTokens(nil),
		byHash: map[string]uuid.UUID{}, moved: make(chan struct{})}, nil
}

// Refresh reads the token events appended since the last refresh.
func (ix *TokenIndex) Refresh(ctx context.Context) error {
	ix.refreshMu.Lock()
	defer ix.refreshMu.Unlock()
	ix.lastRefresh = time.Now()
	for {
		ix.mu.RLock()
		from := ix.version + 1
		ix.mu.RUnlock()
		page, err := ix.store.ReadStream(ctx, operator.TokensStream, from, 500)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		decoded := make([]any, 0, len(page))
		for _, ev := range page {
			p, err := ix.codec.DecodePublic(ev)
			if err != nil {
				return fmt.Errorf("httpapi: decode token event at position %d: %w", ev.Position, err)
			}
			decoded = append(decoded, p)
		}
		ix.mu.Lock()
		for i, p := range decoded {
			ix.set.Apply(p)
			if e, ok := p.(operator.TokenIssued); ok {
				ix.byHash[e.SecretHash] = e.TokenID
			}
			ix.version = page[i].Version
		}
		close(ix.moved)
		ix.moved = make(chan struct{})
		ix.mu.Unlock()
		if len(page) < 500 {
			return nil
		}
	}
}

// Run keeps the index up to date until ctx ends: on every change the store
// announces and at least every poll interval.
func (ix *TokenIndex) Run(ctx context.Context, poll time.Duration) error {
	if poll <= 0 {
		poll = time.Second
	}
	notifier, _ := ix.store.(eventstore.ChangeNotifier)
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		var changed <-chan struct{}
		if notifier != nil {
			changed = notifier.Changed()
		}
		if err := ix.Refresh(ctx); err != nil && ctx.Err() == nil {
			// transient store trouble: keep serving the last known tokens
			select {
			case <-ctx.Done():
			case <-time.After(poll):
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		case <-t.C:
		}
	}
}

// WaitVersion blocks until the index has applied the stream up to version v.
func (ix *TokenIndex) WaitVersion(ctx context.Context, v uint64) error {
	for {
		ix.mu.RLock()
		cur, ch := ix.version, ix.moved
		ix.mu.RUnlock()
		if cur >= v {
			return nil
		}
		if err := ix.Refresh(ctx); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Lookup returns the active token whose secret is secret. A miss triggers at
// most one store refresh per second, so a token issued by another process
// (the CLI, another node) works at once without letting junk hammer the store.
func (ix *TokenIndex) Lookup(ctx context.Context, secret string) (operator.Token, bool) {
	if !operator.WellFormed(secret) {
		return operator.Token{}, false
	}
	hash := operator.HashSecret(secret)
	if tok, ok := ix.lookupHash(hash); ok {
		return tok, tok.Active(ix.now())
	}
	ix.refreshMu.Lock()
	stale := time.Since(ix.lastRefresh) > time.Second
	ix.refreshMu.Unlock()
	if stale {
		_ = ix.Refresh(ctx)
		if tok, ok := ix.lookupHash(hash); ok {
			return tok, tok.Active(ix.now())
		}
	}
	return operator.Token{}, false
}

func (ix *TokenIndex) lookupHash(hash string) (operator.Token, bool) {
	ix.mu.RLock()
	id, ok := ix.byHash[hash]
	var tok operator.Token
	if ok {
		tok, ok = ix.set.Get(id)
	}
	ix.mu.RUnlock()
	// The map lookup is keyed by a hash of the secret, so its timing says
	// nothing useful about the secret; the final comparison is constant-time
	// all the same.
	if !ok || subtle.ConstantTimeCompare([]byte(tok.SecretHash), []byte(hash)) != 1 {
		return operator.Token{}, false
	}
	return tok, true
}

// List returns every token (active, expired and revoked), oldest first.
func (ix *TokenIndex) List() []operator.Token {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.set.List()
}

// Get returns one token.
func (ix *TokenIndex) Get(id uuid.UUID) (operator.Token, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.set.Get(id)
}

// TokenWriter issues and revokes operator tokens by appending to the
// operator-tokens stream with the version it loaded, retrying on conflicts.
// The HTTP API and the CLI share it.
type TokenWriter struct {
	Store eventstore.Store
	Codec *eventstore.Codec
	Rand  io.Reader
	Now   func() time.Time
}

// Load reads the whole token set.
func (w TokenWriter) Load(ctx context.Context) (*operator.Tokens, error) {
	var hist []any
	from := uint64(1)
	for {
		page, err := w.Store.ReadStream(ctx, operator.TokensStream, from, 1000)
		if err != nil {
			return nil, err
		}
		for _, ev := range page {
			p, err := w.Codec.DecodePublic(ev)
			if err != nil {
				return nil, err
			}
			hist = append(hist, p)
		}
		if len(page) < 1000 {
			return operator.RehydrateTokens(hist), nil
		}
		from = page[len(page)-1].Version + 1
	}
}

// Issued is the result of issuing a token: the secret is shown once.
type Issued struct {
	Token    operator.Token
	Secret   string
	Position uint64
	Version  uint64 // of the operator-tokens stream
}

// Issue appends a new token. When onlyIfNoAdmin is set and an active admin
// token exists, it returns ok=false and issues nothing (first-start bootstrap,
// safe when several nodes start at once).
func (w TokenWriter) Issue(ctx context.Context, p operator.IssueParams, meta eventstore.Metadata, onlyIfNoAdmin bool) (res Issued, ok bool, err error) {
	err = w.retry(ctx, func(set *operator.Tokens, now time.Time) (bool, error) {
		if onlyIfNoAdmin && set.HasActiveAdmin(now) {
			return false, nil
		}
		secret, tok, err := set.Issue(p, w.Rand, now)
		if err != nil {
			return false, err
		}
		res = Issued{Token: tok, Secret: secret}
		return true, nil
	}, meta, &res.Position, &res.Version)
	return res, res.Secret != "", err
}

// Revoke appends the revocation of token id.
func (w TokenWriter) Revoke(ctx context.Context, id uuid.UUID, by string, meta eventstore.Metadata) (position, version uint64, err error) {
	err = w.retry(ctx, func(set *operator.Tokens, now time.Time) (bool, error) {
		return true, set.Revoke(id, by, now)
	}, meta, &position, &version)
	return position, version, err
}

func (w TokenWriter) retry(ctx context.Context, decide func(*operator.Tokens, time.Time) (bool, error),
	meta eventstore.Metadata, position, version *uint64) error {
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	for attempt := 0; ; attempt++ {
		set, err := w.Load(ctx)
		if err != nil {
			return err
		}
		write, err := decide(set, now().UTC().Truncate(time.Microsecond))
		if err != nil || !write {
			return err
		}
		evs := make([]eventstore.Event, 0, len(set.Changes()))
		for _, c := range set.Changes() {
			ev, err := w.Codec.Encode(ctx, c, meta)
			if err != nil {
				return err
			}
			evs = append(evs, ev)
		}
		res, err := w.Store.Append(ctx, operator.TokensStream, eventstore.Exact(set.Version()), evs...)
		if errors.Is(err, eventstore.ErrConcurrency) && attempt < 5 {
			continue
		}
		if err != nil {
			return err
		}
		*position, *version = res.LastPosition, res.NextVersion
		return nil
	}
}
