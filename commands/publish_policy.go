package commands

import (
	"context"
	"time"

	"github.com/ledgerline/ledgerline/domain/consent"
	"github.com/ledgerline/ledgerline/eventstore"
)

// PublishPolicy publishes a privacy policy version. EffectiveAt defaults to now; versions take
// effect in publication order.
type PublishPolicy struct {
	Version     string     `json:"version" validate:"required,max=32"`
	Material    bool       `json:"material"`                                            // affected accounts must be notified
	ContentHash string     `json:"content_hash" validate:"required,len=64,hexadecimal"` // SHA-256 of the text
	EffectiveAt *time.Time `json:"effective_at,omitempty"`
}

// PublishPolicyResult is the Data of PublishPolicy.
type PublishPolicyResult struct {
	Version     string    `json:"version"`
	EffectiveAt time.Time `json:"effective_at"`
}

func (s *Service) publishPolicy(ctx context.Context, c *PublishPolicy) (Result, error) {
	now := s.clock()
	eff := now
	if c.EffectiveAt != nil {
		eff = c.EffectiveAt.UTC().Truncate(time.Microsecond)
	}
	h, _, err := s.load(ctx, consent.PolicyStream)
	if err != nil {
		return Result{}, err
	}
	p := consent.RehydratePolicy(h)
	if err := p.Publish(consent.PublishParams{Version: c.Version, Material: c.Material, ContentHash: c.ContentHash, EffectiveAt: eff}, now); err != nil {
		return Result{}, err
	}
	r, err := s.save(ctx, consent.PolicyStream, eventstore.Exact(p.Version()), p.Changes())
	if err != nil {
		return Result{}, err
	}
	return Result{Position: r.LastPosition, Data: PublishPolicyResult{Version: c.Version, EffectiveAt: eff}}, nil
}
