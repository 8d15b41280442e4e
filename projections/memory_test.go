package projections_test

import (
	"testing"

	"github.com/ledgerline/ledgerline/eventstore"
	"github.com/ledgerline/ledgerline/projections"
	"github.com/ledgerline/ledgerline/projections/readmodeltest"
)

func TestMemoryReadModels(t *testing.T) {
	readmodeltest.Run(t, readmodeltest.Features{
		New: func(t *testing.T, codec *eventstore.Codec) readmodeltest.Impl {
			s := projections.NewMemSet(codec, projections.MemSetOptions{Now: readmodeltest.Clock})
			return readmodeltest.Impl{Models: s, Projector: s, Dump: func(testing.TB) string { return readmodeltest.DumpValue(s) }}
		},
	})
}
