package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/apikey"
	"github.com/ledgerline/ledgerline/domain/operator"
	"github.com/ledgerline/ledgerline/projections"
)

// Reads are the read models the API queries.
type Reads struct {
	Models projections.ReadModels
	// WaitFor blocks until every read model has applied position or ctx
	// ends; it gives reads with ?after= their read-your-writes.
	WaitFor func(ctx context.Context, position uint64) error
}

func (r Reads) validate() error {
	if r.Models == nil || r.WaitFor == nil {
		return errors.New("httpapi: Config.Reads needs the read models and WaitFor")
	}
	return nil
}

// accountParam parses {account_id} and enforces customer ownership.
func accountParam(r *http.Request) (uuid.UUID, error) {
	id, err := pathUUID(r, "account_id")
	if err != nil {
		return id, err
	}
	return id, ownAccount(r, id)
}

// seesPersonal reports whether the caller may receive decrypted personal
// data of the account: the customer themself, or admin/compliance staff
// (whose read is recorded). Auditors and gateways never do.
func seesPersonal(r *http.Request) bool {
	p := principalOf(r.Context())
	return p != nil && (p.Role == operator.Customer || p.Role == operator.Admin || p.Role == operator.Compliance)
}

func (s *Server) getAccount(w http.ResponseWriter, r *http.Request) error {
	id, err := s.accountRead(r)
	if err != nil {
		return err
	}
	v, err := s.cfg.Reads.Models.Accounts().Account(r.Context(), id)
	if err != nil {
		return err
	}
	if !seesPersonal(r) {
		v.Email, v.Name = "", ""
	} else if !v.Erased {
		if err := s.recordRead(r, id, operator.ReadProfile); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) listAccounts(w http.ResponseWriter, r *http.Request) error {
	if err := s.waitRead(r); err != nil {
		return err
	}
	after, err := queryInt(r, "cursor", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	status := r.URL.Query().Get("status")
	switch status {
	case "", projections.StatusActive, projections.StatusSuspended, projections.StatusClosed, projections.StatusErased:
	default:
		return fieldProblem(http.StatusBadRequest, "status", "account_status", "must be one of active, suspended, closed, erased")
	}
	page, err := s.cfg.Reads.Models.Accounts().ListAccounts(r.Context(), projections.AccountFilter{Status: status, After: uint64(after), Limit: int(limit)})
	if err != nil {
		return err
	}
	if page.Items == nil {
		page.Items = []projections.AccountView{}
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// KeyList lists an account's keys.
type KeyList struct {
	Keys []projections.KeyView `json:"keys"`
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) error {
	id, err := s.accountRead(r)
	if err != nil {
		return err
	}
	keys, err := s.cfg.Reads.Models.Keys().KeysByAccount(r.Context(), id)
	if err != nil {
		return err
	}
	// key names are incidental personal data: staff who give no reason get
	// the list without them (and nothing to record)
	withNames := seesPersonal(r) && (principalOf(r.Context()).Role == operator.Customer || r.URL.Query().Get("reason") != "")
	named := false
	for i := range keys {
		if !withNames {
			keys[i].Name = ""
		} else if keys[i].Name != "" {
			named = true
		}
	}
	if named {
		if err := s.recordRead(r, id, operator.ReadKeys); err != nil {
			return err
		}
	}
	if keys == nil {
		keys = []projections.KeyView{}
	}
	writeJSON(w, http.StatusOK, KeyList{Keys: keys})
	return nil
}

func (s *Server) getKey(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "key_id")
	if err != nil {
		return err
	}
	if err := s.waitRead(r); err != nil {
		return err
	}
	v, err := s.cfg.Reads.Models.Keys().Key(r.Context(), id)
	if err != nil {
		return err
	}
	if p := principalOf(r.Context()); p.Role == operator.Customer && v.AccountID != p.AccountID {
		return errForbidden()
	}
	v.Name = ""
	writeJSON(w, http.StatusOK, v)
	return nil
}

// VerifyKeyRequest carries the secret the gateway received.
type VerifyKeyRequest struct {
	Secret string `json:"secret" validate:"required"`
	Scope  string `json:"scope,omitempty"` // optional: also require this scope
}

// VerifyKeyResponse says whether the key may be used, and whose it is.
type VerifyKeyResponse struct {
	Valid     bool       `json:"valid"`
	KeyID     *uuid.UUID `json:"key_id,omitempty"`
	AccountID *uuid.UUID `json:"account_id,omitempty"`
	Prefix    string     `json:"prefix,omitempty"`
	Scopes    []string   `json:"scopes,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// verifyKey is the gateway's hot path: shape check, SHA-256, one map lookup.
// An unknown, revoked, expired or out-of-scope key answers valid=false (200),
// so the gateway can tell "no" from an error.
func (s *Server) verifyKey(w http.ResponseWriter, r *http.Request) error {
	var req VerifyKeyRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Secret == "" {
		return fieldProblem(http.StatusUnprocessableEntity, "secret", "required", "is required")
	}
	if req.Scope != "" {
		if _, err := apikey.ParseScope(req.Scope); err != nil {
			return fieldProblem(http.StatusUnprocessableEntity, "scope", "scope", "must be one of inference, usage:read, billing:read")
		}
	}
	out := VerifyKeyResponse{}
	if apikey.WellFormed(req.Secret) {
		auth, ok, err := s.cfg.Reads.Models.Keys().VerifyBySecretHash(r.Context(), apikey.HashSecret(req.Secret))
		if err != nil {
			return err
		}
		if ok && (req.Scope == "" || contains(auth.Scopes, req.Scope)) {
			kid, aid := auth.KeyID, auth.AccountID
			out = VerifyKeyResponse{Valid: true, KeyID: &kid, AccountID: &aid, Prefix: auth.Prefix, Scopes: auth.Scopes, ExpiresAt: auth.ExpiresAt}
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// UsageReport is an account's usage: totals and, when grouped, buckets.
type UsageReport struct {
	AccountID uuid.UUID                 `json:"account_id"`
	Totals    projections.UsageCounts   `json:"totals"`
	Buckets   []projections.UsageBucket `json:"buckets,omitempty"`
}

func (s *Server) getUsage(w http.ResponseWriter, r *http.Request) error {
	id, err := accountParam(r)
	if err != nil {
		return err
	}
	f := projections.UsageFilter{AccountID: id}
	q := r.URL.Query()
	for _, b := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(b.name); v != "" {
			t, err := time.Parse(time.DateOnly, v)
			if err != nil {
				return fieldProblem(http.StatusBadRequest, b.name, "date", "must be a date (YYYY-MM-DD)")
			}
			*b.dst = t
		}
	}
	if v := q.Get("key_id"); v != "" {
		if f.KeyID, err = uuid.Parse(v); err != nil {
			return fieldProblem(http.StatusBadRequest, "key_id", "uuid", "must be a UUID")
		}
	}
	if v := q.Get("group_by"); v != "" {
		for _, d := range strings.Split(v, ",") {
			dim, err := projections.ParseUsageDimension(strings.TrimSpace(d))
			if err != nil {
				return fieldProblem(http.StatusBadRequest, "group_by", "usage_dimension", "must list day, model, provider or key, comma-separated")
			}
			f.GroupBy = append(f.GroupBy, dim)
		}
	}
	if err := s.waitRead(r); err != nil {
		return err
	}
	out := UsageReport{AccountID: id}
	if out.Totals, err = s.cfg.Reads.Models.Usage().UsageTotals(r.Context(), f); err != nil {
		return err
	}
	if len(f.GroupBy) > 0 {
		if out.Buckets, err = s.cfg.Reads.Models.Usage().Usage(r.Context(), f); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getBalance(w http.ResponseWriter, r *http.Request) error {
	id, err := s.accountRead(r)
	if err != nil {
		return err
	}
	v, err := s.cfg.Reads.Models.Balances().Balance(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) listTransactions(w http.ResponseWriter, r *http.Request) error {
	id, err := accountParam(r)
	if err != nil {
		return err
	}
	after, err := queryInt(r, "cursor", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	if err := s.waitRead(r); err != nil {
		return err
	}
	page, err := s.cfg.Reads.Models.Balances().Transactions(r.Context(), projections.TxFilter{AccountID: id, After: uint64(after), Limit: int(limit)})
	if err != nil {
		return err
	}
	if page.Items == nil {
		page.Items = []projections.Transaction{}
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// DisputeList lists an account's disputes.
type DisputeList struct {
	Disputes []projections.DisputeRow `json:"disputes"`
}

func (s *Server) listDisputes(w http.ResponseWriter, r *http.Request) error {
	id, err := s.accountRead(r)
	if err != nil {
		return err
	}
	ds, err := s.cfg.Reads.Models.Balances().Disputes(r.Context(), id)
	if err != nil {
		return err
	}
	if ds == nil {
		ds = []projections.DisputeRow{}
	}
	writeJSON(w, http.StatusOK, DisputeList{Disputes: ds})
	return nil
}

func (s *Server) getConsent(w http.ResponseWriter, r *http.Request) error {
	id, err := accountParam(r)
	if err != nil {
		return err
	}
	asOf, ok, err := queryTime(r, "as_of")
	if err != nil {
		return err
	}
	if err := s.waitRead(r); err != nil {
		return err
	}
	var st projections.ConsentState
	if ok {
		st, err = s.cfg.Reads.Models.Consent().ConsentAsOf(r.Context(), id, asOf)
	} else {
		st, err = s.cfg.Reads.Models.Consent().Consent(r.Context(), id)
	}
	if err != nil {
		return err
	}
	if st.Purposes == nil {
		st.Purposes = []projections.PurposeState{}
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// ConsentHistory lists every consent receipt of an account.
type ConsentHistory struct {
	AccountID uuid.UUID                    `json:"account_id"`
	Receipts  []projections.ConsentReceipt `json:"receipts"`
}

func (s *Server) getConsentHistory(w http.ResponseWriter, r *http.Request) error {
	id, err := s.accountRead(r)
	if err != nil {
		return err
	}
	rs, err := s.cfg.Reads.Models.Consent().ConsentHistory(r.Context(), id)
	if err != nil {
		return err
	}
	if rs == nil {
		rs = []projections.ConsentReceipt{}
	}
	writeJSON(w, http.StatusOK, ConsentHistory{AccountID: id, Receipts: rs})
	return nil
}

// accountRead is the start of every per-account query: the account id from
// the path, then the bounded wait for read-your-writes (?after=).
func (s *Server) accountRead(r *http.Request) (uuid.UUID, error) {
	id, err := accountParam(r)
	if err != nil {
		return uuid.Nil, err
	}
	return id, s.waitRead(r)
}
