package consent

import (
	"errors"
	"maps"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain"
)

// Sentinels.
var (
	ErrEssentialRequired = errors.New("essential processing cannot be withdrawn")
	ErrDefaultsApplied   = domain.StateError("consent defaults already applied")
)

// Stream is the name of an account's consent stream.
func Stream(accountID uuid.UUID) string { return "consent-" + accountID.String() }

// Receipt is what every consent change records besides purpose, grant and time.
type Receipt struct {
	Method        Method
	PolicyVersion string
	Actor         string // id of who acted; never an email or a name
}

func (r Receipt) check() error {
	if r.Method == (Method{}) {
		return domain.NewRuleError("method", "required", "is required")
	}
	if err := checkVersion("policy_version", r.PolicyVersion); err != nil {
		return err
	}
	return checkActor(r.Actor)
}

func checkVersion(field, v string) error {
	if err := domain.CheckText(field, v, 1, 32); err != nil {
		return err
	}
	if strings.TrimSpace(v) != v {
		return domain.NewRuleError(field, "no_surrounding_space", "must not start or end with spaces")
	}
	return nil
}

func checkActor(a string) error {
	if err := domain.CheckText("actor", a, 1, 128); err != nil {
		return err
	}
	if strings.Contains(a, "@") {
		return domain.NewRuleError("actor", "not_personal", "must be an id, not an email address")
	}
	return nil
}

// Consents is the per-account consent aggregate.
type Consents struct {
	id          uuid.UUID
	version     uint64
	changes     []any
	defaulted   bool
	state       map[Purpose]bool
	receiptVer  map[Purpose]string // policy version of the last receipt per purpose
	accepted    string
	notifiedFor map[string]bool
}

// Rehydrate rebuilds an account's consents from its stream. Before defaults are applied the
// state is the strictest one (everything non-essential off).
func Rehydrate(accountID uuid.UUID, history []any) *Consents {
	c := &Consents{id: accountID, state: Defaults(domain.Jurisdiction{}), receiptVer: map[Purpose]string{}, notifiedFor: map[string]bool{}}
	for _, e := range history {
		c.Apply(e)
		c.version++
	}
	return c
}

// Apply changes state for one event; unknown events are ignored.
func (c *Consents) Apply(e any) {
	switch e := domain.Deref(e).(type) {
	case DefaultsApplied:
		c.defaulted = true
		for s, on := range e.Purposes {
			if p, err := ParsePurpose(s); err == nil {
				c.state[p] = on
			}
		}
		c.state[Essential] = true
	case Given:
		if p, err := ParsePurpose(e.Purpose); err == nil {
			c.state[p], c.receiptVer[p] = true, e.PolicyVersion
		}
	case Withdrawn:
		if p, err := ParsePurpose(e.Purpose); err == nil && p != Essential {
			c.state[p], c.receiptVer[p] = false, e.PolicyVersion
		}
	case PolicyAccepted:
		c.accepted = e.PolicyVersion
	case PolicyChangeNotified:
		c.notifiedFor[e.PolicyVersion] = true
	}
}

func (c *Consents) record(e any) {
	c.Apply(e)
	c.changes = append(c.changes, e)
}

// ID returns the account id.
func (c *Consents) ID() uuid.UUID { return c.id }

// Version is the number of events applied from history.
func (c *Consents) Version() uint64 { return c.version }

// Changes returns the events recorded since load, in order.
func (c *Consents) Changes() []any { return c.changes }

// ClearChanges forgets recorded events once they are stored.
func (c *Consents) ClearChanges() { c.changes = nil }

// State returns the current consent per purpose (a copy).
func (c *Consents) State() map[Purpose]bool { return maps.Clone(c.state) }

// Granted reports whether p is currently consented to.
func (c *Consents) Granted(p Purpose) bool { return c.state[p] }

// AcceptedPolicy is the last policy version the account accepted, or "".
func (c *Consents) AcceptedPolicy() string { return c.accepted }

// ApplyDefaults records the jurisdiction's defaults as the account's starting state; once.
func (c *Consents) ApplyDefaults(j domain.Jurisdiction, policyVersion string, now time.Time) error {
	if j.IsZero() {
		return domain.NewRuleError("jurisdiction", "required", "is required")
	}
	if err := checkVersion("policy_version", policyVersion); err != nil {
		return err
	}
	if c.defaulted {
		return ErrDefaultsApplied
	}
	m := map[string]bool{}
	for p, on := range Defaults(j) {
		m[p.String()] = on
	}
	c.record(DefaultsApplied{AccountID: c.id, Jurisdiction: j.String(), Purposes: m, PolicyVersion: policyVersion, At: now})
	return nil
}

// Give records consent to p. Repeating a grant under the same policy version records nothing
// (retries are harmless); under a new policy version it records a fresh receipt.
func (c *Consents) Give(p Purpose, r Receipt, now time.Time) error {
	if err := c.check(p, r); err != nil {
		return err
	}
	if p == Essential || (c.state[p] && c.receiptVer[p] == r.PolicyVersion) {
		return nil
	}
	c.record(Given{AccountID: c.id, Purpose: p.String(), Granted: true, Method: r.Method.String(),
		PolicyVersion: r.PolicyVersion, Actor: r.Actor, At: now})
	return nil
}

// Withdraw records withdrawal of consent to p; as easy as Give. Essential cannot be withdrawn.
// Withdrawing what is already off records a receipt anyway when no receipt exists yet (a
// default), so the person's choice is demonstrable; otherwise a repeat records nothing.
func (c *Consents) Withdraw(p Purpose, r Receipt, now time.Time) error {
	if err := c.check(p, r); err != nil {
		return err
	}
	if p == Essential {
		return &domain.RuleError{Field: "purpose", Rule: "essential_required",
			Message: "essential processing is needed to provide the service", Err: ErrEssentialRequired}
	}
	if !c.state[p] && c.receiptVer[p] == r.PolicyVersion {
		return nil
	}
	c.record(Withdrawn{AccountID: c.id, Purpose: p.String(), Granted: false, Method: r.Method.String(),
		PolicyVersion: r.PolicyVersion, Actor: r.Actor, At: now})
	return nil
}

func (c *Consents) check(p Purpose, r Receipt) error {
	if c.id == uuid.Nil {
		return domain.NewRuleError("account_id", "required", "is required")
	}
	if p == (Purpose{}) {
		return domain.NewRuleError("purpose", "required", "is required")
	}
	return r.check()
}

// AcceptPolicy records that the account accepted a policy version; accepting the current one
// again records nothing.
func (c *Consents) AcceptPolicy(version string, r Receipt, now time.Time) error {
	if c.id == uuid.Nil {
		return domain.NewRuleError("account_id", "required", "is required")
	}
	r.PolicyVersion = version
	if err := r.check(); err != nil {
		return err
	}
	if c.accepted == version {
		return nil
	}
	c.record(PolicyAccepted{AccountID: c.id, PolicyVersion: version, Method: r.Method.String(), Actor: r.Actor, At: now})
	return nil
}

// NotifyPolicyChange records that the account was told about a policy version; once per version.
func (c *Consents) NotifyPolicyChange(version string, ch Channel, now time.Time) error {
	if c.id == uuid.Nil {
		return domain.NewRuleError("account_id", "required", "is required")
	}
	if err := checkVersion("policy_version", version); err != nil {
		return err
	}
	if ch == (Channel{}) {
		return domain.NewRuleError("channel", "required", "is required")
	}
	if c.notifiedFor[version] {
		return nil
	}
	c.record(PolicyChangeNotified{AccountID: c.id, PolicyVersion: version, Channel: ch.String(), At: now})
	return nil
}
