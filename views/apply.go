package views

import (
	"syncer/apply"
)

// ApplyObserver writes apply's events: apply_start and apply_complete or
// apply_errored per object, and progress.
type ApplyObserver struct{ J *JSON }

var _ apply.Observer = ApplyObserver{}

// RunStarted writes nothing: the plan's lines came before.
func (o ApplyObserver) RunStarted(apply.RunInfo) {}

func (o ApplyObserver) ObjectStarted(x apply.Object) {
	o.J.Write(&ApplyObject{Sync: x.Sync, Key: x.Key, Action: string(x.Action), Bytes: x.Bytes})
}

func (o ApplyObserver) ObjectFinished(x apply.Object) {
	el := x.Elapsed.Seconds()
	m := &ApplyObject{Sync: x.Sync, Key: x.Key, Action: string(x.Action), Bytes: x.Bytes, Outcome: string(x.Outcome),
		Transferred: &x.Transferred, ElapsedSeconds: &el}
	if x.Err != nil {
		m.Error = x.Err.Error()
	}
	o.J.Write(m)
}

func (o ApplyObserver) Progress(p apply.Progress) {
	m := &Progress{Objects: p.Objects, ObjectsTotal: p.ObjectsTotal, Bytes: p.Bytes, BytesTotal: p.BytesTotal,
		Rate: p.Rate, ElapsedSeconds: p.Elapsed.Seconds()}
	if p.ETA >= 0 {
		eta := p.ETA.Seconds()
		m.ETASeconds = &eta
	}
	o.J.Write(m)
}

// ApplyResult is the change_summary that ends an apply; outcome is
// complete, partial, interrupted or failed.
func ApplyResult(res apply.Result, outcome, message string) *ApplySummary {
	return &ApplySummary{Operation: "apply", Totals: TotalsOf(res),
		ElapsedSeconds: res.Elapsed.Seconds(), Interrupted: res.Interrupted, StopReason: res.StopReason, Outcome: outcome,
		Message: message}
}

// TotalsOf returns res's counts.
func TotalsOf(res apply.Result) Totals {
	return Totals{Created: res.Created, Updated: res.Updated, Deleted: res.Deleted, Failed: res.Failed,
		Skipped: res.Skipped, Archived: res.Archived, RestoresPending: res.Restoring, BackedUp: res.BackedUp,
		Bytes: res.Bytes, BytesTransferred: res.Transferred}
}
