package views_test

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"syncer/apply"
	"syncer/views"
)

// One message of every type, as the commands write them, matches the
// schema; a message that breaks it does not.
func TestEveryMessageMatchesSchema(t *testing.T) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile("../docs/json-output.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	j := views.NewJSON(&buf, "test")
	obs := views.ApplyObserver{J: j}
	now := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	obj := apply.Object{Sync: "s", Key: "k", Action: "create", Bytes: 10}
	obs.ObjectStarted(obj)
	obj.Outcome, obj.Elapsed = apply.Created, time.Second
	obs.ObjectFinished(obj)
	obj.Outcome, obj.Err = apply.Failed, errors.New("boom")
	obs.ObjectFinished(obj)
	obs.Progress(apply.Progress{Objects: 1, ObjectsTotal: 2, Bytes: 3, BytesTotal: 4, Rate: 1.5, ETA: -1})
	obs.Progress(apply.Progress{Objects: 1, ObjectsTotal: 2, Bytes: 3, BytesTotal: 4, Rate: 1.5, ETA: time.Second})
	msgs := []views.Message{
		&views.Diagnostic{Severity: "error", Summary: "bad", Detail: "d", Range: &views.Range{Filename: "a.hcl",
			Start: views.Pos{Line: 1, Column: 1}, End: views.Pos{Line: 1, Column: 5, Byte: 4}}},
		&views.Diagnostic{Severity: "warning", Summary: "w"},
		&views.ValidateResult{Valid: true, Backends: 2, Syncs: 1},
		&views.PlannedChange{Sync: "s", Action: "create", Key: "k", Size: -1, Reason: "new"},
		&views.PlanSummary{Operation: "plan", Message: "No changes."},
		views.ApplyResult(apply.Result{Created: 1, Elapsed: time.Second}, "complete", "Apply complete!"),
		&views.State{Path: "syncer.db", Lineage: "x", Serial: 3, Syncs: []views.SyncSummary{{Sync: "s", Objects: 1, Bytes: 2, LastWritten: views.Time(now)}},
			LastRun: &views.Run{ID: 1, Operation: "apply", Started: views.Time(now), Status: "complete"}},
		&views.State{Path: "syncer.db", Syncs: []views.SyncSummary{}},
		&views.StateObject{Sync: "s", Key: "k", Size: 1, MTime: views.Time(now), Written: views.Time(now)},
		&views.FailedObject{Run: 1, Sync: "s", Key: "k", Action: "create", Error: "boom", At: views.Time(now)},
		&views.CheckDifference{Sync: "s", Key: "k", Kind: "hash_differs", Detail: "d"},
		&views.CheckSummary{Sync: "s", Match: 1},
		&views.Object{Key: "k", Size: 1, MTime: views.Time(now)},
		&views.Shards{Shards: 2, Syncs: []views.SyncSummary{}, Locked: []string{"0/2"}, Unfinished: []string{}, PerShard: []views.Shard{
			{Shard: "0/2", State: "s.db", Status: "running", Locked: true, Lock: &views.Lock{ID: "x", Operation: "apply", Host: "h", PID: 1, Version: "v", Started: views.Time(now)}},
			{Shard: "1/2", State: "s.db", Status: "no state", Syncs: []views.SyncSummary{}}}},
	}
	for _, m := range msgs {
		if err := j.Write(m); err != nil {
			t.Fatal(err)
		}
	}
	types := map[string]bool{}
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(sc.Text()))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(v); err != nil {
			t.Errorf("%s: %v", sc.Text(), err)
		}
		types[v.(map[string]any)["type"].(string)] = true
	}
	for _, ty := range []views.Type{views.TypeVersion, views.TypeDiagnostic, views.TypeValidateResult, views.TypePlannedChange,
		views.TypeChangeSummary, views.TypeApplyStart, views.TypeApplyComplete, views.TypeApplyErrored, views.TypeProgress,
		views.TypeState, views.TypeStateObject, views.TypeFailedObject, views.TypeCheckDifference, views.TypeCheckSummary, views.TypeObject, views.TypeShards} {
		if !types[string(ty)] {
			t.Errorf("no %s message written", ty)
		}
	}
	// A field of the wrong type, or an unknown one, is refused.
	for _, bad := range []string{
		`{"type":"progress","timestamp":"2026-01-02T03:04:05Z","objects":"1","objects_total":2,"bytes":3,"bytes_total":4,"rate":1,"eta_seconds":null,"elapsed_seconds":1}`,
		`{"type":"object","timestamp":"2026-01-02T03:04:05Z","key":"k","size":1,"Size":1}`,
		`{"type":"nope","timestamp":"2026-01-02T03:04:05Z"}`,
	} {
		v, _ := jsonschema.UnmarshalJSON(strings.NewReader(bad))
		if sch.Validate(v) == nil {
			t.Errorf("schema accepts %s", bad)
		}
	}
}
