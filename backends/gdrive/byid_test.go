package gdrive

import (
	"errors"
	"io"
	"strings"
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
