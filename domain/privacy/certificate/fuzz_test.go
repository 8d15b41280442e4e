package certificate_test

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"github.com/ledgerline/ledgerline/domain/privacy/certificate"
)

// FuzzVerify feeds hostile input to Parse and Verify: they must never panic,
// and whatever verifies must be exactly the file its own content signs to.
// The seed corpus in testdata/fuzz/FuzzVerify holds valid files signed with
// testKey(1) and broken variants.
func FuzzVerify(f *testing.F) {
	priv := testKey(1)
	pub := priv.Public().(ed25519.PublicKey)
	f.Add(signed(f, sample(), priv))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, perr := certificate.Parse(data)
		c, verr := certificate.Verify(data, pub)
		if verr != nil {
			return
		}
		if perr != nil {
			t.Fatalf("Verify accepted what Parse refused: %v", perr)
		}
		s, err := certificate.Sign(c, priv)
		if err != nil {
			t.Fatalf("verified content does not sign again: %v", err)
		}
		if !bytes.Equal(s.Bytes(), data) || !bytes.Equal(p.Canonical, s.Canonical) {
			t.Fatalf("verified file is not canonical:\n%q\n%q", data, s.Bytes())
		}
		_ = certificate.RenderHTML(c)
	})
}
