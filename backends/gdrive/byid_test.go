package gdrive

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"syncer/backends"
	"syncer/backends/backendtest"
)

// Under name-search lag, a later run (no folder cache) given the ids a
// write returned updates, reads and deletes the files by id: no list
// request at all (no name query, no scan), the update in place (same id,
// no second file), the delete a trash.
func TestIDsUnderNameLag(t *testing.T) {
	srv := newFake(t)
	root := newFolder(srv)
	srv.SetNameLag(time.Hour)
	opts := testOptions(srv, root)
	a := backendtest.PutBytes(t, mustNew(t, opts), "d/e/a.txt", []byte("first"))
	c := backendtest.PutBytes(t, mustNew(t, opts), "c.txt", []byte("at the root"))
	if a.ID == "" || c.ID == "" {
		t.Fatalf("Put returned ids %q, %q; want Drive's file ids", a.ID, c.ID)
	}

	b := mustNew(t, opts) // a later run
	srv.ResetStats()
	ctx := backends.WithIDs(t.Context(), backends.IDs{Dst: a.ID})
	got, err := b.Put(ctx, "d/e/a.txt", strings.NewReader("second"), backends.Object{Size: 6})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != a.ID {
		t.Errorf("update by id returned id %q; want %q (in place)", got.ID, a.ID)
	}
	rc, err := b.Open(backends.WithIDs(t.Context(), backends.IDs{Src: c.ID}), "c.txt", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != "at the root" {
		t.Errorf("Open by id = %q", body)
	}
	if err := b.Delete(backends.WithIDs(t.Context(), backends.IDs{Dst: c.ID}), "c.txt"); err != nil {
		t.Fatal(err)
	}
	if n := srv.Stats().ByKind["list"]; n != 0 {
		t.Errorf("%d list requests by id; want 0 (%v)", n, srv.Stats().ByKind)
	}
	if fi, ok := srv.Get(c.ID); !ok || !fi.Trashed {
		t.Errorf("c.txt after Delete by id: %+v, %v; want trashed", fi, ok)
	}
	if got := keysOf(t, b, ""); strings.Join(got, ",") != "d/e/a.txt" {
		t.Errorf("keys = %q; want d/e/a.txt alone", got)
	}
	if got := backendtest.ReadAll(t, b, "d/e/a.txt"); string(got) != "second" {
		t.Errorf("d/e/a.txt = %q; want second", got)
	}
	// Its id trashed: already gone, a success, and nothing else removed.
	if err := b.Delete(backends.WithIDs(t.Context(), backends.IDs{Dst: c.ID}), "c.txt"); err != nil {
		t.Errorf("Delete of a trashed id: %v", err)
	}
	// An id Drive does not know: already gone.
	if err := b.Delete(backends.WithIDs(t.Context(), backends.IDs{Dst: "no-such-id"}), "d/e/a.txt"); err != nil {
		t.Errorf("Delete of an unknown id: %v", err)
	}
	if got := backendtest.ReadAll(t, b, "d/e/a.txt"); string(got) != "second" {
		t.Errorf("d/e/a.txt after a Delete of an unknown id = %q; want it kept", got)
	}
}

// An id that is no longer the key's (another key's file) is not used: a
// write falls back to the name, and a Delete that finds nothing by name
// for a key the state holds an id for fails, naming the key.
func TestIDsNotTheKeys(t *testing.T) {
	srv := newFake(t)
	root := newFolder(srv)
	b := mustNew(t, testOptions(srv, root))
	other := backendtest.PutBytes(t, b, "d/other.txt", []byte("other"))
	ctx := backends.WithIDs(t.Context(), backends.IDs{Dst: other.ID})
	got, err := b.Put(ctx, "d/a.txt", strings.NewReader("aaa"), backends.Object{Size: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID == other.ID {
		t.Fatalf("Put of d/a.txt wrote over d/other.txt's file")
	}
	if s := backendtest.ReadAll(t, b, "d/other.txt"); string(s) != "other" {
		t.Errorf("d/other.txt = %q; want it untouched", s)
	}
	err = b.Delete(ctx, "d/missing.txt")
	if err == nil || !strings.Contains(err.Error(), "d/missing.txt") || !strings.Contains(err.Error(), "run again") || errors.Is(err, backends.ErrNotFound) {
		t.Errorf("Delete of a key whose id is elsewhere: %v; want an error naming the key", err)
	}
	if fi, ok := srv.Get(other.ID); !ok || fi.Trashed {
		t.Errorf("d/other.txt after that Delete: %+v, %v; want untouched", fi, ok)
	}
}

// mapJournal is a backends.IDJournal in memory, for tests.
type mapJournal struct {
	mu  sync.Mutex
	ids map[string]string
}

func (j *mapJournal) Get(_ context.Context, key string) (string, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.ids[key], nil
}

func (j *mapJournal) Put(_ context.Context, key, id string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if id == "" {
		delete(j.ids, key)
	} else {
		j.ids[key] = id
	}
	return nil
}

// Under name-search lag, a later run finds the folders an earlier one
// made in the journal (by id, confirmed by files.get): a new file in them
// costs one name query (its own name) and no listing, where a run without
// the journal searches and lists; a journalled folder since trashed is
// not used (a new one is made and journalled).
func TestFolderJournalUnderNameLag(t *testing.T) {
	srv := newFake(t)
	root := newFolder(srv)
	srv.SetNameLag(time.Hour)
	opts := testOptions(srv, root)
	j := &mapJournal{ids: map[string]string{}}
	withJournal := func() *Backend {
		b := mustNew(t, opts)
		b.UseJournal(j)
		return b
	}
	backendtest.PutBytes(t, withJournal(), "d/e/a.txt", []byte("a"))
	d := srv.Find(root, "d")
	if len(d) != 1 || j.ids["d"] != d[0].ID || len(j.ids) != 2 {
		t.Fatalf("journal %v after making d/e; Drive has d %+v", j.ids, d)
	}
	e := j.ids["d/e"]

	srv.ResetStats()
	backendtest.PutBytes(t, withJournal(), "d/e/b.txt", []byte("b"))
	if q, l := srv.NameQueries(), srv.Stats().ByKind["list"]; q != 1 || l != 1 {
		t.Errorf("a new file in journalled folders: %d name queries, %d list requests; want 1 and 1 (its own name)", q, l)
	}
	srv.ResetStats()
	backendtest.PutBytes(t, mustNew(t, opts), "d/e/c.txt", []byte("c"))
	if q := srv.NameQueries(); q <= 1 {
		t.Errorf("without the journal: %d name queries; want more than with it (the test shows nothing)", q)
	}
	if got := srv.Find(d[0].ID, "e"); len(got) != 1 || got[0].ID != e {
		t.Errorf("folders d/e: %+v; want the one journalled, %s", got, e)
	}

	srv.Trash(e)
	backendtest.PutBytes(t, withJournal(), "d/e/f.txt", []byte("f"))
	got := srv.Find(d[0].ID, "e")
	if len(got) != 1 || got[0].ID == e || j.ids["d/e"] != got[0].ID {
		t.Errorf("after trashing d/e: folders %+v, journal %q; want a new folder, journalled", got, j.ids["d/e"])
	}
	if keys := keysOf(t, mustNew(t, opts), ""); strings.Join(keys, ",") != "d/e/f.txt" {
		t.Errorf("keys = %q; want d/e/f.txt", keys)
	}
}
