package views

import (
	"context"

	"syncer/plan"
)

// WritePlan writes every planned change of p, then its change_summary.
func WritePlan(ctx context.Context, j *JSON, p *plan.Plan) error {
	err := p.EachLine(ctx, "", shown, func(a plan.Line) error {
		return j.Write(&PlannedChange{Sync: a.Sync, Action: string(a.Kind), Key: a.Key, Size: a.Size, Reason: a.Reason})
	})
	if err != nil {
		return err
	}
	sum, err := p.Summary(ctx)
	if err != nil {
		return err
	}
	return j.Write(&PlanSummary{Operation: "plan",
		Create: sum.Create, Update: sum.Update, Delete: sum.Delete, Bytes: sum.Bytes, Skip: sum.Skip, Adopt: sum.Adopt,
		Archived: sum.Archived + sum.ArchivedFail, Restore: sum.Restore, Excluded: sum.Excluded, Message: SummaryLine(sum)})
}
