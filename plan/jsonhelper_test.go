package plan_test

import (
	"bytes"
	"context"

	"syncer/plan"
	"syncer/views"
)

// writeJSON writes p's JSON stream without its version line.
func writeJSON(ctx context.Context, w *bytes.Buffer, p *plan.Plan) error {
	var all bytes.Buffer
	if err := views.WritePlan(ctx, views.NewJSON(&all, "test"), p); err != nil {
		return err
	}
	_, rest, _ := bytes.Cut(all.Bytes(), []byte("\n"))
	w.Write(rest)
	return nil
}
