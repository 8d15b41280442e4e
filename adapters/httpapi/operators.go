package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/operator"
	"github.com/ledgerline/ledgerline/eventstore"
)

// IssueTokenRequest asks for a new operator token.
type IssueTokenRequest struct {
	Role      string     `json:"role" validate:"required"` // admin, compliance, auditor, gateway, customer
	AccountID uuid.UUID  `json:"account_id,omitzero"`      // customer tokens only
	ExpiresAt *time.Time `json:"expires_at,omitempty"`     // optional
}

// TokenView describes a token; it never holds the secret or its hash.
type TokenView struct {
	TokenID   uuid.UUID  `json:"token_id"`
	Role      string     `json:"role"`
	AccountID *uuid.UUID `json:"account_id,omitempty"`
	Prefix    string     `json:"prefix"`
	IssuedBy  string     `json:"issued_by"`
	IssuedAt  time.Time  `json:"issued_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	Active    bool       `json:"active"`
}

// IssuedTokenView is the answer to issuing: the secret appears here once.
type IssuedTokenView struct {
	TokenView
	Secret   string `json:"secret"`
	Position uint64 `json:"position"`
}

// TokenList lists tokens.
type TokenList struct {
	Tokens []TokenView `json:"tokens"`
}

// RevokedTokenView answers a revocation.
type RevokedTokenView struct {
	TokenID  uuid.UUID `json:"token_id"`
	Position uint64    `json:"position"`
}

// WhoAmI describes the caller.
type WhoAmI struct {
	TokenID   uuid.UUID  `json:"token_id"`
	Role      string     `json:"role"`
	AccountID *uuid.UUID `json:"account_id,omitempty"`
}

func tokenView(t operator.Token, now time.Time) TokenView {
	v := TokenView{TokenID: t.ID, Role: t.Role.String(), Prefix: t.Prefix, IssuedBy: t.IssuedBy, IssuedAt: t.IssuedAt,
		ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt, Active: t.Active(now)}
	if t.AccountID != uuid.Nil {
		id := t.AccountID
		v.AccountID = &id
	}
	return v
}

func (s *Server) issueToken(w http.ResponseWriter, r *http.Request) error {
	var req IssueTokenRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	role, err := operator.ParseRole(req.Role)
	if err != nil {
		return fieldProblem(http.StatusUnprocessableEntity, "role", "role", "must be one of admin, compliance, auditor, gateway, customer")
	}
	p := principalOf(r.Context())
	res, _, err := s.tokens.Issue(r.Context(), operator.IssueParams{Role: role, AccountID: req.AccountID,
		IssuedBy: p.TokenID.String(), ExpiresAt: req.ExpiresAt}, s.meta(r), false)
	if err != nil {
		return err
	}
	if err := s.syncTokens(r.Context(), res.Version); err != nil {
		return err
	}
	writeWritten(w, http.StatusCreated, res.Position, IssuedTokenView{TokenView: tokenView(res.Token, s.now()),
		Secret: res.Secret, Position: res.Position})
	return nil
}

// syncTokens makes the caller's own token change visible to the next request.
func (s *Server) syncTokens(ctx context.Context, version uint64) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ReadWait)
	defer cancel()
	return s.cfg.Tokens.WaitVersion(ctx, version)
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	now := s.now()
	out := TokenList{Tokens: []TokenView{}}
	for _, t := range s.cfg.Tokens.List() {
		out.Tokens = append(out.Tokens, tokenView(t, now))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "token_id")
	if err != nil {
		return err
	}
	p := principalOf(r.Context())
	pos, version, err := s.tokens.Revoke(r.Context(), id, p.TokenID.String(), s.meta(r))
	if err != nil {
		return err
	}
	if err := s.syncTokens(r.Context(), version); err != nil {
		return err
	}
	writeWritten(w, http.StatusOK, pos, RevokedTokenView{TokenID: id, Position: pos})
	return nil
}

func (s *Server) whoAmI(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r.Context())
	out := WhoAmI{TokenID: p.TokenID, Role: p.Role.String()}
	if p.AccountID != uuid.Nil {
		id := p.AccountID
		out.AccountID = &id
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// Health is the body of /healthz.
type Health struct {
	Status   string `json:"status"` // "ok" or "unavailable"
	Version  string `json:"version"`
	Position uint64 `json:"position"` // the log head
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	h := Health{Status: "ok", Version: s.cfg.Version}
	head, err := s.cfg.Store.Head(ctx)
	if err == nil && s.cfg.Ready != nil {
		err = s.cfg.Ready(ctx)
	}
	if err != nil {
		h.Status = "unavailable"
		writeJSON(w, http.StatusServiceUnavailable, h)
		return nil
	}
	h.Position = head.Position
	writeJSON(w, http.StatusOK, h)
	return nil
}

// recordRead appends the record of a staff read of subject's decrypted
// personal data, before the data is returned. Customers reading their own
// data are not recorded. The reason comes from ?reason=.
func (s *Server) recordRead(r *http.Request, subject uuid.UUID, what operator.ReadKind) error {
	p := principalOf(r.Context())
	if p == nil || !p.Role.Staff() {
		return nil
	}
	ev, err := operator.RecordRead(operator.ReadParams{ReaderTokenID: p.TokenID, ReaderRole: p.Role, Subject: subject,
		What: what, Reason: r.URL.Query().Get("reason"), RequestID: requestID(r.Context())}, s.now().UTC().Truncate(time.Microsecond))
	if err != nil {
		return err
	}
	env, err := s.cfg.Codec.Encode(r.Context(), ev, s.meta(r))
	if err != nil {
		return err
	}
	_, err = s.cfg.Store.Append(r.Context(), operator.AccessStream(subject), eventstore.Any, env)
	return err
}
