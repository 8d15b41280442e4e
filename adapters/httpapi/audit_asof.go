package httpapi

import (
	"crypto/ed25519"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain"
	"github.com/ledgerline/ledgerline/domain/audit"
	"github.com/ledgerline/ledgerline/projections"
)

// AsOfPoint says which moment an as-of answer describes: what was asked,
// and the last log position (and its store time) the replay applied.
type AsOfPoint struct {
	Requested  string     `json:"requested"`
	Position   uint64     `json:"position"`
	RecordedAt *time.Time `json:"recorded_at,omitempty"`
}

// AccountAsOf is an account's public state as of a past moment, replayed
// from the log for auditors: profile status (never email or name), balance
// and transactions, consent and usage totals.
type AccountAsOf struct {
	AccountID uuid.UUID               `json:"account_id"`
	AsOf      AsOfPoint               `json:"as_of"`
	Account   projections.AccountView `json:"account"`
	Balance   projections.BalanceView `json:"balance"`
	// Transactions is one page in log order; TransactionsNext is the cursor of the next (absent on the last).
	Transactions     []projections.Transaction `json:"transactions"`
	TransactionsNext uint64                    `json:"transactions_next,omitempty"`
	Consent          projections.ConsentState  `json:"consent"`
	Usage            projections.UsageCounts   `json:"usage"`
}

// parseAsOf reads ?as_of=: an RFC 3339 time or a log position (>= 1).
func parseAsOf(r *http.Request) (projections.Until, string, error) {
	v := strings.TrimSpace(r.URL.Query().Get("as_of"))
	bad := fieldProblem(http.StatusBadRequest, "as_of", "as_of", "must be an RFC 3339 time or a log position (an integer >= 1)")
	if v == "" {
		return projections.Until{}, "", fieldProblem(http.StatusBadRequest, "as_of", "required", "is required: an RFC 3339 time or a log position")
	}
	if n, err := strconv.ParseUint(v, 10, 63); err == nil {
		if n < 1 {
			return projections.Until{}, "", bad
		}
		return projections.Until{Position: n}, v, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return projections.Until{}, "", bad
	}
	return projections.Until{Time: t.UTC()}, v, nil
}

// auditAccountAsOf replays the log up to as_of into fresh in-memory read
// models (nothing cached, the live models untouched) and answers from them.
// Nothing is decrypted.
func (s *Server) auditAccountAsOf(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "account_id")
	if err != nil {
		return err
	}
	until, asked, err := parseAsOf(r)
	if err != nil {
		return err
	}
	cursor, err := queryInt(r, "cursor", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	set, err := projections.AsOf(r.Context(), s.cfg.Store, s.cfg.Codec, until)
	if err != nil {
		return err
	}
	accounts, ok := set.Accounts().(*projections.MemAccounts)
	if !ok {
		return errors.New("httpapi: as-of accounts model has no public view")
	}
	out := AccountAsOf{AccountID: id, AsOf: AsOfPoint{Requested: asked, Position: set.Position()}}
	if at := set.LastRecordedAt(); !at.IsZero() {
		out.AsOf.RecordedAt = &at
	}
	if out.Account, err = accounts.PublicAccount(r.Context(), id); err != nil {
		return err // not registered yet at that moment: 404
	}
	if out.Balance, err = set.Balances().Balance(r.Context(), id); err != nil {
		return err
	}
	page, err := set.Balances().Transactions(r.Context(), projections.TxFilter{AccountID: id, After: uint64(cursor), Limit: int(limit)})
	if err != nil {
		return err
	}
	out.Transactions, out.TransactionsNext = page.Items, page.Next
	if out.Transactions == nil {
		out.Transactions = []projections.Transaction{}
	}
	if out.Consent, err = set.Consent().Consent(r.Context(), id); err != nil {
		return err
	}
	if out.Usage, err = set.Usage().UsageTotals(r.Context(), projections.UsageFilter{AccountID: id}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// CheckpointView is a signed chain checkpoint as recorded in the log.
type CheckpointView struct {
	// EventPosition is where the checkpoint event itself is in the log.
	EventPosition uint64 `json:"event_position"`
	// Position and Hash are the head that was signed, at SignedAt.
	Position    uint64    `json:"position"`
	Hash        string    `json:"hash"`
	SignedAt    time.Time `json:"signed_at"`
	Algorithm   string    `json:"algorithm"`
	PublicKeyID string    `json:"public_key_id"`
	Signature   string    `json:"signature"`
	// SignatureValid is the check with the server's public key (absent when it has none).
	SignatureValid *bool `json:"signature_valid,omitempty"`
}

// CheckpointList is a page of checkpoints in signing order; Next is the
// version to ask for next (absent at the end).
type CheckpointList struct {
	Checkpoints []CheckpointView `json:"checkpoints"`
	Next        uint64           `json:"next,omitempty"`
}

func (s *Server) auditCheckpoints(w http.ResponseWriter, r *http.Request) error {
	from, err := queryInt(r, "from", 1, 1, 1<<62)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	evs, err := s.cfg.Store.ReadStream(r.Context(), audit.CheckpointsStream, uint64(from), int(limit))
	if err != nil {
		return err
	}
	out := CheckpointList{Checkpoints: make([]CheckpointView, 0, len(evs))}
	for _, e := range evs {
		p, err := s.cfg.Codec.DecodePublic(e)
		if err != nil {
			return err
		}
		c, ok := domain.Deref(p).(audit.ChainCheckpointSigned)
		if !ok {
			continue // only checkpoints belong on this stream
		}
		v := CheckpointView{EventPosition: e.Position, Position: c.Position, Hash: c.Hash, SignedAt: c.SignedAt,
			Algorithm: c.Algorithm, PublicKeyID: c.PublicKeyID, Signature: c.Signature}
		if len(s.cfg.CertificateKey) == ed25519.PublicKeySize {
			_, verr := c.Verify(s.cfg.CertificateKey)
			valid := verr == nil
			v.SignatureValid = &valid
		}
		out.Checkpoints = append(out.Checkpoints, v)
	}
	if len(evs) == int(limit) {
		out.Next = evs[len(evs)-1].Version + 1
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
