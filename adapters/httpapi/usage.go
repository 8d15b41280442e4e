package httpapi

import (
	"net/http"

	"github.com/ledgerline/ledgerline/commands"
)

// MaxBatchRecords bounds a usage batch over HTTP.
const MaxBatchRecords = 5000

// commandBatch is how many records go to the command layer at once.
const commandBatch = 1000

// UsageBatchRequest carries up to MaxBatchRecords usage records.
type UsageBatchRequest struct {
	Records []commands.RecordUsage `json:"records" validate:"required,min=1,max=5000"`
}

// recordUsageBatch answers with one result per record (in input order);
// records are stored in chunks, each durable before the answer.
func (s *Server) recordUsageBatch(w http.ResponseWriter, r *http.Request) error {
	req, err := decodeUsageBatch(r)
	if err != nil {
		return err
	}
	switch n := len(req.Records); {
	case n == 0:
		return fieldProblem(http.StatusUnprocessableEntity, "records", "required", "at least one record is required")
	case n > MaxBatchRecords:
		return fieldProblem(http.StatusUnprocessableEntity, "records", "max", "at most 5000 records per batch")
	}
	ctx := s.actorCtx(r)
	out := commands.RecordUsageBatchResult{Results: make([]commands.RecordUsageItemResult, 0, len(req.Records))}
	var pos uint64
	for start := 0; start < len(req.Records); start += commandBatch {
		end := min(start+commandBatch, len(req.Records))
		res, err := s.cfg.Commands.Dispatch(ctx, &commands.RecordUsageBatch{Records: req.Records[start:end]})
		if err != nil {
			return err
		}
		pos = max(pos, res.Position)
		part, _ := res.Data.(commands.RecordUsageBatchResult)
		out.Recorded += part.Recorded
		out.Duplicates += part.Duplicates
		out.Rejected += part.Rejected
		for _, it := range part.Results {
			it.Index += start
			out.Results = append(out.Results, it)
		}
	}
	return writeResult(w, http.StatusOK, pos, out)
}
