package consent

import (
	"time"

	"github.com/ledgerline/ledgerline/domain"
)

// PolicyStream is the single stream of published policy versions.
const PolicyStream = "policy"

// ErrVersionPublished: the policy version exists already.
var ErrVersionPublished = domain.StateError("policy version already published")

type publishedVersion struct {
	version     string
	material    bool
	effectiveAt time.Time
}

// Policy is the aggregate of published policy versions.
type Policy struct {
	version  uint64
	changes  []any
	versions []publishedVersion
}

// RehydratePolicy rebuilds the policy history from PolicyStream.
func RehydratePolicy(history []any) *Policy {
	p := &Policy{}
	for _, e := range history {
		p.Apply(e)
		p.version++
	}
	return p
}

// Apply changes state for one event; unknown events are ignored.
func (p *Policy) Apply(e any) {
	if e, ok := domain.Deref(e).(PolicyVersionPublished); ok {
		p.versions = append(p.versions, publishedVersion{e.Version, e.Material, e.EffectiveAt})
	}
}

// ID returns the stream name: there is one policy.
func (p *Policy) ID() string { return PolicyStream }

// Version is the number of events applied from history.
func (p *Policy) Version() uint64 { return p.version }

// Changes returns the events recorded since load, in order.
func (p *Policy) Changes() []any { return p.changes }

// ClearChanges forgets recorded events once they are stored.
func (p *Policy) ClearChanges() { p.changes = nil }

// Current returns the version in effect at t ("" before the first one).
func (p *Policy) Current(t time.Time) string {
	cur := ""
	for _, v := range p.versions {
		if !v.effectiveAt.After(t) {
			cur = v.version
		}
	}
	return cur
}

// Material reports whether a published version is a material change.
func (p *Policy) Material(version string) bool {
	for _, v := range p.versions {
		if v.version == version {
			return v.material
		}
	}
	return false
}

// PublishParams are the inputs of Publish.
type PublishParams struct {
	Version     string
	Material    bool
	ContentHash string // SHA-256 hex of the published text
	EffectiveAt time.Time
}

// Publish records a new policy version. Versions are unique and take effect in publication order.
func (p *Policy) Publish(in PublishParams, now time.Time) error {
	if err := checkVersion("version", in.Version); err != nil {
		return err
	}
	if !domain.IsSHA256Hex(in.ContentHash) {
		return domain.NewRuleError("content_hash", "sha256_hex", "must be a lower-case hex SHA-256")
	}
	if in.EffectiveAt.IsZero() {
		return domain.NewRuleError("effective_at", "required", "is required")
	}
	for _, v := range p.versions {
		if v.version == in.Version {
			return ErrVersionPublished
		}
	}
	if n := len(p.versions); n > 0 && in.EffectiveAt.Before(p.versions[n-1].effectiveAt) {
		return domain.NewRuleError("effective_at", "not_before_previous", "must not precede the previous version's")
	}
	e := PolicyVersionPublished{Version: in.Version, Material: in.Material, ContentHash: in.ContentHash,
		EffectiveAt: in.EffectiveAt, PublishedAt: now}
	p.Apply(e)
	p.changes = append(p.changes, e)
	return nil
}
