package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/commands"
	"github.com/ledgerline/ledgerline/domain/account"
	"github.com/ledgerline/ledgerline/domain/apikey"
	"github.com/ledgerline/ledgerline/domain/billing"
	"github.com/ledgerline/ledgerline/domain/consent"
	"github.com/ledgerline/ledgerline/domain/operator"
	"github.com/ledgerline/ledgerline/domain/privacy"
	"github.com/ledgerline/ledgerline/domain/usage"
	"github.com/ledgerline/ledgerline/projections"
)

// ExportFormat names the access export's schema.
const ExportFormat = "ledgerline.access-export/v1"

// Export is the machine-readable answer to an access request: every fact
// held about the person, from the read models and from the log (each event
// with its public part and its personal part decrypted, or marked erased).
type Export struct {
	Format string `json:"format"`
	// ExportID identifies this export when it answers access requests; their
	// privacy.export_produced events carry it and the SHA-256 of this body.
	ExportID        uuid.UUID                    `json:"export_id,omitzero"`
	SubjectID       uuid.UUID                    `json:"subject_id"`
	GeneratedAt     time.Time                    `json:"generated_at"`
	Profile         projections.AccountView      `json:"profile"`
	Keys            []projections.KeyView        `json:"keys"`
	Usage           UsageReport                  `json:"usage"`
	Balance         projections.BalanceView      `json:"balance"`
	Transactions    []projections.Transaction    `json:"transactions"`
	Disputes        []projections.DisputeRow     `json:"disputes"`
	Consent         projections.ConsentState     `json:"consent"`
	ConsentHistory  []projections.ConsentReceipt `json:"consent_history"`
	PrivacyRequests []projections.RequestView    `json:"privacy_requests"`
	Holds           []projections.HoldView       `json:"legal_holds"`
	FraudRecord     *projections.FraudView       `json:"fraud_record,omitempty"` // the keyed email hash kept for fraud prevention
	Events          []ExportEvent                `json:"events"`                 // staff reads of this person's data are among them
	// Manifest lists every section with its source, item count, whether it
	// holds decrypted personal data, and whether it belongs to the
	// portability subset (GDPR Art. 20: data the person provided or produced
	// by using the service, in a reusable format).
	Manifest ExportManifest `json:"manifest"`
}

// ExportManifest describes an access export's sections.
type ExportManifest struct {
	Sections []ManifestSection `json:"sections"`
	// Portable names the sections of the portability subset.
	Portable []string `json:"portable"`
}

// ManifestSection describes one member of the export.
type ManifestSection struct {
	Name     string `json:"name"`
	Source   string `json:"source"`
	Items    int    `json:"items"`
	Personal bool   `json:"personal"`
	Portable bool   `json:"portable"`
}

func (x *Export) buildManifest() {
	one := func(present bool) int {
		if present {
			return 1
		}
		return 0
	}
	x.Manifest.Sections = []ManifestSection{
		{Name: "profile", Source: "accounts read model (sealed values opened at export time)", Items: 1, Personal: true, Portable: true},
		{Name: "keys", Source: "api keys read model", Items: len(x.Keys), Personal: true, Portable: true},
		{Name: "usage", Source: "usage read model", Items: len(x.Usage.Buckets), Portable: true},
		{Name: "balance", Source: "balances read model", Items: 1},
		{Name: "transactions", Source: "balances read model (tax records)", Items: len(x.Transactions), Portable: true},
		{Name: "disputes", Source: "balances read model", Items: len(x.Disputes)},
		{Name: "consent", Source: "consent read model", Items: 1, Portable: true},
		{Name: "consent_history", Source: "consent read model (receipts)", Items: len(x.ConsentHistory), Portable: true},
		{Name: "privacy_requests", Source: "privacy read model", Items: len(x.PrivacyRequests), Personal: true},
		{Name: "legal_holds", Source: "privacy read model", Items: len(x.Holds)},
		{Name: "fraud_record", Source: "fraud read model (keyed email hash kept after erasure)", Items: one(x.FraudRecord != nil)},
		{Name: "events", Source: "event log (public part; personal part decrypted or marked erased)", Items: len(x.Events), Personal: true},
	}
	x.Manifest.Portable = x.Manifest.Portable[:0]
	for _, sec := range x.Manifest.Sections {
		if sec.Portable {
			x.Manifest.Portable = append(x.Manifest.Portable, sec.Name)
		}
	}
}

// ExportEvent is one stored event about the person.
type ExportEvent struct {
	Position   uint64          `json:"position"`
	Stream     string          `json:"stream"`
	Type       string          `json:"type"`
	RecordedAt time.Time       `json:"recorded_at"`
	Data       json.RawMessage `json:"data"`
	Personal   json.RawMessage `json:"personal,omitempty"` // decrypted personal part
	Erased     bool            `json:"erased,omitempty"`   // the personal part was crypto-shredded
	Meta       json.RawMessage `json:"meta,omitempty"`
}

// Export headers: the export's id and the SHA-256 of the body, as recorded.
const (
	ExportIDHeader     = "X-Ledgerline-Export-Id"
	ExportSHA256Header = "X-Ledgerline-Export-SHA256"
)

func (s *Server) exportAccount(w http.ResponseWriter, r *http.Request) error {
	id, err := accountParam(r)
	if err != nil {
		return err
	}
	var answers uuid.UUID // the access request named by ?request_id=
	if v := r.URL.Query().Get("request_id"); v != "" {
		if answers, err = uuid.Parse(v); err != nil {
			return fieldProblem(http.StatusBadRequest, "request_id", "uuid", "must be a UUID")
		}
	}
	if err := s.waitRead(r); err != nil {
		return err
	}
	ctx := r.Context()
	m := s.cfg.Reads.Models
	profile, err := m.Accounts().Account(ctx, id)
	if err != nil {
		return err
	}
	// the record of the read comes first: no decrypted data leaves unrecorded
	if err := s.recordRead(r, id, operator.ReadExport); err != nil {
		return err
	}
	x := Export{Format: ExportFormat, SubjectID: id, GeneratedAt: s.now().UTC(), Profile: profile}
	if x.Keys, err = m.Keys().KeysByAccount(ctx, id); err != nil {
		return err
	}
	uf := projections.UsageFilter{AccountID: id}
	x.Usage.AccountID = id
	if x.Usage.Totals, err = m.Usage().UsageTotals(ctx, uf); err != nil {
		return err
	}
	uf.GroupBy = []projections.UsageDimension{projections.ByDay, projections.ByKey, projections.ByProvider, projections.ByModel}
	if x.Usage.Buckets, err = m.Usage().Usage(ctx, uf); err != nil {
		return err
	}
	if x.Balance, err = m.Balances().Balance(ctx, id); err != nil {
		return err
	}
	for after := uint64(0); ; {
		page, err := m.Balances().Transactions(ctx, projections.TxFilter{AccountID: id, After: after, Limit: 1000})
		if err != nil {
			return err
		}
		x.Transactions = append(x.Transactions, page.Items...)
		if page.Next == 0 {
			break
		}
		after = page.Next
	}
	if x.Disputes, err = m.Balances().Disputes(ctx, id); err != nil {
		return err
	}
	if x.Consent, err = m.Consent().Consent(ctx, id); err != nil {
		return err
	}
	if x.ConsentHistory, err = m.Consent().ConsentHistory(ctx, id); err != nil {
		return err
	}
	reqs, err := m.Privacy().Requests(ctx, projections.RequestFilter{Subject: id}, s.now())
	if err != nil {
		return err
	}
	for _, rq := range reqs {
		full, err := m.Privacy().Request(ctx, rq.RequestID, s.now()) // opens the details
		if err != nil {
			return err
		}
		x.PrivacyRequests = append(x.PrivacyRequests, full)
	}
	var targets []uuid.UUID // access requests this export answers
	for _, rq := range reqs {
		switch {
		case answers != uuid.Nil && rq.RequestID == answers && rq.Kind == privacy.Access.String():
			targets = append(targets, rq.RequestID)
		case answers == uuid.Nil && rq.Kind == privacy.Access.String() && rq.Open():
			targets = append(targets, rq.RequestID)
		}
	}
	if answers != uuid.Nil && len(targets) == 0 {
		return fieldProblem(http.StatusUnprocessableEntity, "request_id", "access_request", "must be an access request about this account")
	}
	if x.Holds, err = m.Privacy().Holds(ctx, id, false); err != nil {
		return err
	}
	if profile.EmailHash != "" {
		fv, err := m.Fraud().EmailHash(ctx, profile.EmailHash)
		switch {
		case err == nil:
			x.FraudRecord = &fv
		case !errors.Is(err, projections.ErrNotFound):
			return err
		}
	}

	streams := []string{account.Stream(id), consent.Stream(id), billing.Stream(id), operator.AccessStream(id), privacy.SubjectHoldsStream(id)}
	if profile.EmailHash != "" {
		streams = append(streams, account.EmailHashStream(profile.EmailHash))
	}
	for _, k := range x.Keys {
		streams = append(streams, apikey.Stream(k.KeyID))
	}
	for _, b := range x.Usage.Buckets {
		if b.Day != nil {
			streams = append(streams, usage.Stream(id, *b.Day))
		}
	}
	for _, rq := range x.PrivacyRequests {
		streams = append(streams, privacy.RequestStream(rq.RequestID))
	}
	for _, h := range x.Holds {
		streams = append(streams, privacy.HoldStream(h.HoldID))
	}
	if x.Events, err = s.exportEvents(r, dedupe(streams)); err != nil {
		return err
	}
	for _, p := range []*[]projections.KeyView{&x.Keys} {
		if *p == nil {
			*p = []projections.KeyView{}
		}
	}
	x.buildManifest()
	if len(targets) == 0 {
		writeJSON(w, http.StatusOK, x)
		return nil
	}
	if x.ExportID, err = uuid.NewV7(); err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(x); err != nil {
		return err
	}
	sum := sha256.Sum256(buf.Bytes())
	digest := hex.EncodeToString(sum[:])
	var pos uint64
	for _, rid := range targets {
		res, err := s.cfg.Commands.Dispatch(s.actorCtx(r), &commands.RecordExport{RequestID: rid, SubjectID: id, ExportID: x.ExportID, SHA256: digest})
		if err != nil {
			return err
		}
		pos = max(pos, res.Position)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set(ExportIDHeader, x.ExportID.String())
	w.Header().Set(ExportSHA256Header, digest)
	if pos > 0 {
		w.Header().Set(PositionHeader, strconv.FormatUint(pos, 10))
	}
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(buf.Bytes())
	return err
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	out := xs[:0]
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// exportEvents reads every event of streams, opening personal parts.
func (s *Server) exportEvents(r *http.Request, streams []string) ([]ExportEvent, error) {
	ctx := r.Context()
	out := []ExportEvent{}
	for _, st := range streams {
		for from := uint64(1); ; {
			page, err := s.cfg.Store.ReadStream(ctx, st, from, 1000)
			if err != nil {
				return nil, err
			}
			for _, ev := range page {
				d, err := s.cfg.Codec.Decode(ctx, ev)
				if err != nil {
					return nil, err
				}
				meta, _ := json.Marshal(ev.Meta)
				xe := ExportEvent{Position: ev.Position, Stream: ev.Stream, Type: ev.Type, RecordedAt: ev.RecordedAt,
					Data: json.RawMessage(ev.Data), Erased: d.Erased, Meta: meta}
				if len(ev.Sealed) > 0 && !d.Erased {
					if pv := reflect.ValueOf(d.Payload).FieldByName("Personal"); pv.IsValid() {
						if xe.Personal, err = json.Marshal(pv.Interface()); err != nil {
							return nil, err
						}
					}
				}
				out = append(out, xe)
			}
			if len(page) < 1000 {
				break
			}
			from = page[len(page)-1].Version + 1
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Position < out[j].Position })
	return out, nil
}
