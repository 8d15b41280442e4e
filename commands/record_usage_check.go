package commands

import (
	"net"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/usage"
)

// plainlyValid reports whether c keeps every rule of its validate tags,
// checked field by field; false means "ask the validator", which names the
// broken rule. A usage batch checks thousands of records per request, and the
// validator's reflective walk was about 30 % of that path's CPU. It never says
// true for a record the validator refuses (TestRecordUsagePlainlyValid): a
// string's byte length bounds its rune count, so a length within the limit
// is within it for the validator too; a longer one goes to the validator.
func (c *RecordUsage) plainlyValid() bool {
	return c.KeyID != uuid.Nil &&
		c.RequestID != "" && len(c.RequestID) <= usage.MaxRequestIDLen &&
		c.Provider != "" && len(c.Provider) <= usage.MaxProviderLen &&
		c.Model != "" && len(c.Model) <= usage.MaxModelLen &&
		between(c.InputTokens, 1_000_000_000) &&
		between(c.OutputTokens, 1_000_000_000) &&
		between(c.CostMicros, 10_000_000_000) &&
		between(c.LatencyMs, 86_400_000) &&
		c.Status != "" && validUsageStatus(c.Status) &&
		(c.ClientIP == "" || net.ParseIP(c.ClientIP) != nil) &&
		len(c.UserAgent) <= usage.MaxUserAgentLen
}

func between(v, max int64) bool { return v >= 0 && v <= max }

// validUsageStatus is the usage_status rule (enumRules) and this check's.
func validUsageStatus(s string) bool {
	_, err := usage.ParseStatus(s)
	return err == nil
}
