package state_test

import (
	"context"
	"strings"
	"testing"
	"time"

	. "syncer/state"
)

// Failures are kept in order, their errors cut at 4 KiB, until cleared.
func TestFailures(t *testing.T) {
	ctx := context.Background()
	st := open(t, newPath(t), true)
	defer st.Close()
	at := time.Unix(100, 5)
	long := strings.Repeat("é", 5000)
	if err := st.AddFailures(ctx, []Failure{{Run: 7, Sync: "s", Key: "b", Action: "create", Error: "boom", At: at},
		{Run: 7, Sync: "s", Key: "a", Action: "delete", Error: long, At: at}}); err != nil {
		t.Fatal(err)
	}
	var got []Failure
	if err := st.EachFailure(ctx, func(f Failure) error { got = append(got, f); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Key != "b" || got[0].Error != "boom" || got[0].Run != 7 || !got[0].At.Equal(at) || got[1].Action != "delete" {
		t.Fatalf("failures %+v", got)
	}
	if e := got[1].Error; len(e) > 4096+3 || !strings.HasSuffix(e, "...") || !strings.HasPrefix(e, "éé") || strings.ContainsRune(e, '\uFFFD') {
		t.Errorf("long error kept as %d bytes", len(e))
	}
	if err := st.ClearFailures(ctx); err != nil {
		t.Fatal(err)
	}
	n := 0
	st.EachFailure(ctx, func(Failure) error { n++; return nil })
	if n != 0 {
		t.Errorf("%d failures after clear", n)
	}
}
