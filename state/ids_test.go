package state_test

import (
	"context"
	"strings"
	"testing"

	. "syncer/state"
)

// The id journal keeps ids per place and key, across a reopen; "" forgets.
func TestIDJournal(t *testing.T) {
	ctx := context.Background()
	path := newPath(t)
	st := open(t, path, true)
	a, b := st.IDJournal("gdrive::A"), st.IDJournal("gdrive::B")
	for _, p := range [][3]string{{"A", "d", "id-d"}, {"A", "d/e", "id-e"}, {"B", "d", "other"}} {
		j := a
		if p[0] == "B" {
			j = b
		}
		if err := j.Put(ctx, p[1], p[2]); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Put(ctx, "d", "id-d2"); err != nil {
		t.Fatal(err)
	}
	if err := a.Put(ctx, "d/e", ""); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st = open(t, path, false)
	a, b = st.IDJournal("gdrive::A"), st.IDJournal("gdrive::B")
	for _, c := range []struct {
		j interface {
			Get(context.Context, string) (string, error)
		}
		key, want string
	}{{a, "d", "id-d2"}, {a, "d/e", ""}, {b, "d", "other"}, {b, "x", ""}} {
		if got, err := c.j.Get(ctx, c.key); err != nil || got != c.want {
			t.Errorf("Get(%q) = %q, %v; want %q", c.key, got, err, c.want)
		}
	}
}

// A pending key's announced id survives ClearPending (other pending keys
// do not) and DstID reports it, until the key is recorded.
func TestPendingID(t *testing.T) {
	ctx := context.Background()
	st := open(t, newPath(t), true)
	if err := st.MarkPending(ctx, "s", []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	if err := st.PendingID(ctx, "s", "a", "new-a"); err != nil {
		t.Fatal(err)
	}
	if err := st.ClearPending(ctx); err != nil {
		t.Fatal(err)
	}
	var keys []string
	rows, err := st.DB().QueryContext(ctx, `SELECT key || '=' || id FROM pending ORDER BY key`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		rows.Scan(&k)
		keys = append(keys, k)
	}
	rows.Close()
	if strings.Join(keys, ",") != "a=new-a" {
		t.Errorf("pending after ClearPending: %q; want a=new-a alone", keys)
	}
	if rec, ann, err := st.DstID(ctx, "s", "a"); err != nil || rec != "" || ann != "new-a" {
		t.Errorf("DstID(a) = %q, %q, %v; want \"\", new-a", rec, ann, err)
	}
	r := Record{Sync: "s", Key: "a", Dst: Fingerprint{Size: 1, ID: "new-a"}}
	if err := st.Apply(ctx, []Change{{Record: r}}); err != nil {
		t.Fatal(err)
	}
	if rec, ann, err := st.DstID(ctx, "s", "a"); err != nil || rec != "new-a" || ann != "" {
		t.Errorf("DstID(a) after recording = %q, %q, %v; want new-a, \"\"", rec, ann, err)
	}
}
