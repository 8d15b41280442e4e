package certificate_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/privacy/certificate"
)

// testKey is deterministic so signed fixtures (and the fuzz corpus) are stable.
func testKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

func at(day, hour int) time.Time { return time.Date(2026, 3, day, hour, 0, 0, 0, time.UTC) }

func sample() certificate.Certificate {
	return certificate.Certificate{
		ID:       uuid.MustParse("01960000-0000-7000-8000-000000000001"),
		IssuedAt: at(20, 12),
		Request: certificate.Request{
			ID:          uuid.MustParse("01960000-0000-7000-8000-000000000002"),
			Channel:     "web_form",
			ReceivedAt:  at(1, 9),
			DueAt:       at(31, 23),
			CompletedAt: at(20, 11),
		},
		SubjectPseudonym: "3f1c0a9e5b7d2c4e",
		LegalBasis:       "GDPR Art. 17(1)(a)",
		Erased: []certificate.Erasure{
			{Category: "email, name", Store: "event log (sealed personal parts)", Method: certificate.CryptoShredding},
			{Category: "client IP", Store: "usage events", Method: certificate.CryptoShredding, Detail: "12 events"},
		},
		Key: certificate.KeyDestruction{
			KeyID: "subject-key-7", DestroyedAt: at(20, 10), KEKEpoch: 3,
			KEKRetiredAt: at(27, 0), KEKRetirementScheduled: true,
		},
		Retained: []certificate.Retention{
			{Category: "payment records", Reason: certificate.TaxRecords, Basis: "tax retention, 10 years"},
			{Category: "email hash", Reason: certificate.FraudPrevention, Basis: "legitimate interest: fraud prevention"},
			{Category: "dispute file", Reason: certificate.LegalHold, Basis: "open chargeback", Reference: "dp_123", ReviewAt: at(30, 0)},
		},
		Checks: []certificate.Check{
			{Name: certificate.CheckEventsUndecryptable, Result: certificate.Passed, Detail: "14 of 14 events"},
			{Name: certificate.CheckReadModelsClean, Result: certificate.Passed},
			{Name: certificate.CheckPlaintextScan, Result: certificate.Passed, Detail: "3 values, 0 hits"},
		},
		ChainHead:       certificate.ChainHead{Position: 4711, Hash: strings.Repeat("ab", 32)},
		Operator:        "staff-42",
		SoftwareVersion: "v1.2.3",
	}
}

func signed(t testing.TB, c certificate.Certificate, priv ed25519.PrivateKey) []byte {
	t.Helper()
	s, err := certificate.Sign(c, priv)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return s.Bytes()
}

// forge builds a file around an arbitrary certificate member, correctly signed.
func forge(member string, priv ed25519.PrivateKey) []byte {
	sig := base64.StdEncoding.EncodeToString(ed25519.Sign(priv, []byte(member)))
	return []byte(`{"certificate":` + member + `,"signature":"` + sig + "\"}\n")
}

func TestVerify(t *testing.T) {
	priv := testKey(1)
	pub := priv.Public().(ed25519.PublicKey)
	file := signed(t, sample(), priv)
	member := string(bytes.TrimSuffix(bytes.TrimPrefix(file, []byte(`{"certificate":`)), file[bytes.LastIndex(file, []byte(`,"signature"`)):]))

	cases := []struct {
		name string
		data []byte
		pub  ed25519.PublicKey
		want error
	}{
		{"OK", file, pub, nil},
		{"ErrWrongKey", file, testKey(2).Public().(ed25519.PublicKey), certificate.ErrWrongKey},
		{"ErrPublicKeyShort", file, pub[:31], certificate.ErrPublicKey},
		{"Truncated", file[:len(file)-1], pub, certificate.ErrMalformed},
		{"TruncatedHalf", file[:len(file)/2], pub, certificate.ErrMalformed},
		{"Empty", nil, pub, certificate.ErrMalformed},
		{"TrailingData", append(bytes.Clone(file), "{}"...), pub, certificate.ErrMalformed},
		{"ExtraNewline", append(bytes.Clone(file), '\n'), pub, certificate.ErrMalformed},
		{"Indented", bytes.Replace(file, []byte(`{"certificate":`), []byte("{\n  \"certificate\": "), 1), pub, certificate.ErrMalformed},
		{"EscapedSignature", bytes.Replace(file, []byte(`"signature":"`), []byte(`"signatur\u0065":"`), 1), pub, certificate.ErrMalformed},
		{"UnknownOuterMember", bytes.Replace(file, []byte(`{"certificate":`), []byte(`{"x":1,"certificate":`), 1), pub, certificate.ErrMalformed},
		{"SignedUnknownMember", forge(strings.Replace(member, `{"format"`, `{"extra":1,"format"`, 1), priv), pub, certificate.ErrMalformed},
		{"SignedDuplicateMember", forge(strings.Replace(member, `"operator":"staff-42"`, `"operator":"staff-42","operator":"staff-43"`, 1), priv), pub, certificate.ErrMalformed},
		{"SignedNonCanonicalEscape", forge(strings.Replace(member, `staff-42`, `staff\u002d42`, 1), priv), pub, certificate.ErrMalformed},
		{"SignedNonCanonicalUUID", forge(strings.Replace(member, `01960000-0000-7000-8000-000000000001`, `01960000-0000-7000-8000-00000000000A`, 1), priv), pub, certificate.ErrMalformed},
		{"SignedInvalidContent", forge(strings.Replace(member, `"passed"`, `"failed"`, 1), priv), pub, certificate.ErrInvalid},
		// Well-formed, names the right key id, but signed by another key.
		{"ErrSignature", forge(member, testKey(2)), pub, certificate.ErrSignature},
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := certificate.Verify(c.data, c.pub)
			if c.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if got.ID != sample().ID || got.Signer.PublicKeyID != certificate.KeyID(pub) || got.Format != certificate.Format {
					t.Fatalf("Verify returned %+v", got)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("Verify error = %v, want %v", err, c.want)
			}
		})
	}
}

// TestVerifyEveryByteFlip alters each byte of a certificate file in turn
// (several bit patterns each) and expects Verify to refuse every variant.
func TestVerifyEveryByteFlip(t *testing.T) {
	priv := testKey(1)
	pub := priv.Public().(ed25519.PublicKey)
	file := signed(t, sample(), priv)
	if _, err := certificate.Verify(file, pub); err != nil {
		t.Fatalf("unaltered file: %v", err)
	}
	for i := range file {
		for _, mask := range []byte{0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff} {
			altered := bytes.Clone(file)
			altered[i] ^= mask
			if _, err := certificate.Verify(altered, pub); err == nil {
				t.Fatalf("byte %d (%q) ^ %#x still verifies", i, file[i], mask)
			}
		}
	}
}

func TestSignIsDeterministicAndNormalises(t *testing.T) {
	priv := testKey(1)
	c := sample()
	a := signed(t, c, priv)
	berlin := time.FixedZone("CET", 3600)
	c.IssuedAt = c.IssuedAt.In(berlin)
	c.Request.ReceivedAt = c.Request.ReceivedAt.In(berlin)
	if b := signed(t, c, priv); !bytes.Equal(a, b) {
		t.Fatalf("same certificate in another time zone signs differently:\n%s\n%s", a, b)
	}
	c.Retained = nil
	file := signed(t, c, priv)
	if !bytes.Contains(file, []byte(`"retained":[]`)) {
		t.Fatalf("nil list must encode as []: %s", file)
	}
	got, err := certificate.Verify(file, priv.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if got.IssuedAt.Location() != time.UTC || !got.IssuedAt.Equal(sample().IssuedAt) {
		t.Fatalf("issued_at = %v", got.IssuedAt)
	}
}

func TestSignedDigest(t *testing.T) {
	s, err := certificate.Sign(sample(), testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	if d := s.Digest(); len(d) != 64 || d != certificate.Digest(s.Bytes()) {
		t.Fatalf("Digest = %q", d)
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name   string
		change func(c *certificate.Certificate)
		field  string // "" means valid
	}{
		{"OK", func(c *certificate.Certificate) {}, ""},
		{"OKNothingRetained", func(c *certificate.Certificate) { c.Retained = nil }, ""},
		{"OKExtraCheck", func(c *certificate.Certificate) {
			c.Checks = append(c.Checks, certificate.Check{Name: "backup_catalogue", Result: certificate.Passed})
		}, ""},
		{"ErrIDRequired", func(c *certificate.Certificate) { c.ID = uuid.Nil }, "certificate_id"},
		{"ErrRequestIDRequired", func(c *certificate.Certificate) { c.Request.ID = uuid.Nil }, "request.id"},
		{"ErrChannelRequired", func(c *certificate.Certificate) { c.Request.Channel = " " }, "request.channel"},
		{"ErrPseudonymRequired", func(c *certificate.Certificate) { c.SubjectPseudonym = "" }, "subject_pseudonym"},
		{"ErrLegalBasisRequired", func(c *certificate.Certificate) { c.LegalBasis = "" }, "legal_basis"},
		{"ErrOperatorControl", func(c *certificate.Certificate) { c.Operator = "a\nb" }, "operator"},
		{"ErrOperatorUTF8", func(c *certificate.Certificate) { c.Operator = "a\xffb" }, "operator"},
		{"ErrOperatorTooLong", func(c *certificate.Certificate) { c.Operator = strings.Repeat("x", 2001) }, "operator"},
		{"ErrVersionRequired", func(c *certificate.Certificate) { c.SoftwareVersion = "" }, "software_version"},
		{"ErrDueBeforeReceived", func(c *certificate.Certificate) { c.Request.DueAt = at(1, 8) }, "request.due_at"},
		{"ErrCompletedBeforeReceived", func(c *certificate.Certificate) { c.Request.CompletedAt = at(1, 8) }, "request.completed_at"},
		{"ErrKeyDestroyedBeforeReceived", func(c *certificate.Certificate) { c.Key.DestroyedAt = at(1, 8) }, "key_destruction.destroyed_at"},
		{"ErrCompletedBeforeKeyDestroyed", func(c *certificate.Certificate) { c.Key.DestroyedAt = at(20, 11).Add(time.Second) }, "request.completed_at"},
		{"ErrIssuedBeforeCompleted", func(c *certificate.Certificate) { c.IssuedAt = at(20, 10) }, "issued_at"},
		{"ErrKEKRetiredBeforeDestroyed", func(c *certificate.Certificate) { c.Key.KEKRetiredAt = at(20, 9) }, "key_destruction.kek_retired_at"},
		{"ErrKEKEpoch", func(c *certificate.Certificate) { c.Key.KEKEpoch = 0 }, "key_destruction.kek_epoch"},
		{"ErrKeyIDRequired", func(c *certificate.Certificate) { c.Key.KeyID = "" }, "key_destruction.key_id"},
		{"ErrTimeRequired", func(c *certificate.Certificate) { c.Key.KEKRetiredAt = time.Time{} }, "key_destruction.kek_retired_at"},
		{"ErrErasedRequired", func(c *certificate.Certificate) { c.Erased = nil }, "erased"},
		{"ErrErasedMethod", func(c *certificate.Certificate) { c.Erased[1].Method = certificate.Method{} }, "erased[1].method"},
		{"ErrErasedStore", func(c *certificate.Certificate) { c.Erased[0].Store = "" }, "erased[0].store"},
		{"ErrRetainedReason", func(c *certificate.Certificate) { c.Retained[0].Reason = certificate.Reason{} }, "retained[0].reason"},
		{"ErrRetainedBasis", func(c *certificate.Certificate) { c.Retained[1].Basis = "" }, "retained[1].basis"},
		{"ErrLegalHoldReview", func(c *certificate.Certificate) { c.Retained[2].ReviewAt = time.Time{} }, "retained[2].review_at"},
		{"ErrCheckFailed", func(c *certificate.Certificate) { c.Checks[1].Result = certificate.Failed }, "verification[1].result"},
		{"ErrCheckResult", func(c *certificate.Certificate) { c.Checks[0].Result = certificate.Result{} }, "verification[0].result"},
		{"ErrCheckTwice", func(c *certificate.Certificate) { c.Checks[1].Name = c.Checks[0].Name }, "verification[1].name"},
		{"ErrCheckMissing", func(c *certificate.Certificate) { c.Checks = c.Checks[:2] }, "verification"},
		{"ErrChainHash", func(c *certificate.Certificate) { c.ChainHead.Hash = strings.Repeat("AB", 32) }, "chain_head.hash"},
		{"ErrChainPosition", func(c *certificate.Certificate) { c.ChainHead.Position = 0 }, "chain_head.position"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := sample()
			c.Erased = append([]certificate.Erasure(nil), c.Erased...)
			c.Retained = append([]certificate.Retention(nil), c.Retained...)
			c.Checks = append([]certificate.Check(nil), c.Checks...)
			tc.change(&c)
			_, err := certificate.Sign(c, testKey(1))
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Sign: %v", err)
				}
				return
			}
			var fe *certificate.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field || !errors.Is(err, certificate.ErrInvalid) {
				t.Fatalf("Sign error = %v, want a FieldError on %s", err, tc.field)
			}
		})
	}
}

func TestSignRejectsBadKey(t *testing.T) {
	if _, err := certificate.Sign(sample(), ed25519.PrivateKey{1, 2, 3}); err == nil {
		t.Fatal("Sign accepted a short key")
	}
}

func TestEnumsRejectUnknownValues(t *testing.T) {
	var m certificate.Method
	if err := m.UnmarshalText([]byte("burned")); err == nil {
		t.Fatal("Method accepted an unknown value")
	}
	var r certificate.Reason
	if err := r.UnmarshalText([]byte("tax_records")); err != nil || r != certificate.TaxRecords {
		t.Fatalf("Reason = %v, %v", r, err)
	}
	var res certificate.Result
	if err := res.UnmarshalText([]byte("PASSED")); err == nil {
		t.Fatal("Result accepted a differently cased value")
	}
}

func TestPublicKeyText(t *testing.T) {
	pub := testKey(1).Public().(ed25519.PublicKey)
	text := certificate.FormatPublicKey(pub)
	if !strings.HasPrefix(text, certificate.PublicKeyPrefix) {
		t.Fatalf("FormatPublicKey = %q", text)
	}
	got, err := certificate.ParsePublicKey("  " + text + "\n")
	if err != nil || !got.Equal(pub) {
		t.Fatalf("ParsePublicKey = %x, %v", got, err)
	}
	for name, bad := range map[string]string{
		"NoPrefix":   strings.TrimPrefix(text, certificate.PublicKeyPrefix),
		"Short":      certificate.PublicKeyPrefix + base64.StdEncoding.EncodeToString(pub[:31]),
		"NotBase64":  certificate.PublicKeyPrefix + "!!!",
		"OtherAlgo":  "ledgerline-rsa:" + base64.StdEncoding.EncodeToString(pub),
		"Unpadded":   certificate.PublicKeyPrefix + base64.RawStdEncoding.EncodeToString(pub),
		"Empty":      "",
		"PrefixOnly": certificate.PublicKeyPrefix,
	} {
		if _, err := certificate.ParsePublicKey(bad); !errors.Is(err, certificate.ErrPublicKey) {
			t.Errorf("%s: ParsePublicKey error = %v", name, err)
		}
	}
	if id := certificate.KeyID(pub); len(id) != 32 || id == certificate.KeyID(testKey(2).Public().(ed25519.PublicKey)) {
		t.Fatalf("KeyID = %q", id)
	}
}

func TestRenderHTML(t *testing.T) {
	c := sample()
	c.Operator = `<script>alert("x")</script>`
	c.Erased[0].Detail = `a & b`
	s, err := certificate.Sign(c, testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	page := string(certificate.RenderHTML(s.Certificate))
	for _, want := range []string{
		"<!DOCTYPE html>", "Certificate of erasure", c.ID.String(), c.Request.ID.String(), "3f1c0a9e5b7d2c4e",
		"GDPR Art. 17(1)(a)", "Crypto-shredding", "Tax records", "Legal hold", "dp_123", "30 March 2026",
		"20 March 2026, 11:00:00 UTC", "4711", strings.Repeat("ab", 32), "v1.2.3", s.Certificate.Signer.PublicKeyID,
		"&lt;script&gt;", "a &amp; b", "scheduled",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script>") || strings.Contains(page, "src=") || strings.Contains(page, "href=") {
		t.Error("page must be self-contained and must not carry unescaped markup")
	}
	if strings.Contains(page, "after the legal deadline") {
		t.Error("an on-time erasure is reported late")
	}
	c.Request.CompletedAt, c.IssuedAt = at(31, 23).Add(time.Hour), at(31, 23).Add(time.Hour)
	if !strings.Contains(string(certificate.RenderHTML(c)), "after the legal deadline") {
		t.Error("a late erasure is not flagged")
	}
}
