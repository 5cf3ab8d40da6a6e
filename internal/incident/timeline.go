package incident

import (
	"context"
	"slices"

	"github.com/portico/portico/internal/audit"
)

// Timeline returns every action taken on the incident, oldest first: the
// audit events whose target is the incident (CP-7.2). It is read from the
// tamper-evident trail, so the timeline cannot be edited apart from it.
func (s *Service) Timeline(ctx context.Context, id string) ([]audit.ExportLine, error) {
	var out []audit.ExportLine
	f := audit.Filter{Target: "incident:" + id, Limit: 500}
	for {
		page, err := s.audit.Search(ctx, f)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) < f.Limit {
			break
		}
		f.Before = page[len(page)-1].Seq
	}
	slices.Reverse(out)
	return out, nil
}
