package commands_test

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/ledgerline/ledgerline/commands"
	"github.com/ledgerline/ledgerline/domain/billing"
	"github.com/ledgerline/ledgerline/domain/usage"
)

// The validation tags carry the domain's upper bounds (the OpenAPI document
// is generated from the tags): they must not drift apart.
func TestValidationBoundsMatchTheDomain(t *testing.T) {
	for _, c := range []struct {
		cmd   any
		field string
		max   int64
	}{
		{commands.RecordUsage{}, "InputTokens", usage.MaxTokens},
		{commands.RecordUsage{}, "OutputTokens", usage.MaxTokens},
		{commands.RecordUsage{}, "CostMicros", usage.MaxCostMicros},
		{commands.RecordUsage{}, "LatencyMs", usage.MaxLatencyMs},
		{commands.RecordPayment{}, "AmountMicros", billing.MaxAmountMicros},
		{commands.RefundPayment{}, "AmountMicros", billing.MaxAmountMicros},
		{commands.OpenDispute{}, "AmountMicros", billing.MaxAmountMicros},
	} {
		f, ok := reflect.TypeOf(c.cmd).FieldByName(c.field)
		if !ok {
			t.Fatalf("%T has no field %s", c.cmd, c.field)
		}
		want := "max=" + strconv.FormatInt(c.max, 10)
		found := false
		for _, r := range strings.Split(f.Tag.Get("validate"), ",") {
			found = found || r == want
		}
		if !found {
			t.Errorf("%T.%s: validate tag %q lacks %s", c.cmd, c.field, f.Tag.Get("validate"), want)
		}
	}
}
