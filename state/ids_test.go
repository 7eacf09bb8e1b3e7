package state_test

import (
	"context"
	"testing"
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
