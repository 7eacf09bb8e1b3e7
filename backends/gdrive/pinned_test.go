package gdrive

import (
	"errors"
	"io"
	"testing"

	"syncer/backends"
	"syncer/backends/backendtest"
)

// TestPinnedRangesAcrossNewRevision: the parts of an upload elsewhere are
// ranged reads of one Drive file; once the file gets a new revision, the
// range being read fails at its last byte (a reader that stops after
// exactly the range's length sees it), and so does the next range.
func TestPinnedRangesAcrossNewRevision(t *testing.T) {
	srv := newFake(t)
	b := mustNew(t, testOptions(srv, newFolder(srv)))
	const key, size = "big.bin", 256 << 10
	backendtest.PutBytes(t, b, key, backendtest.RandomBytes(1, size))
	listed, err := b.Stat(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	if listed.ETag == "" {
		t.Fatal("precondition: Stat reports no head revision in ETag")
	}
	first := make([]byte, 64<<10)
	rc, err := b.OpenPinned(t.Context(), listed, 0, int64(len(first)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(rc, first); err != nil {
		t.Fatalf("first range, unchanged file: %v", err)
	}
	rc.Close()

	rc, err = b.OpenPinned(t.Context(), listed, 64<<10, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	part := make([]byte, 64<<10)
	if _, err := io.ReadFull(rc, part[:100]); err != nil {
		t.Fatal(err)
	}
	backendtest.PutBytes(t, b, key, backendtest.RandomBytes(2, size)) // a new revision
	if _, err := io.ReadFull(rc, part[100:]); !errors.Is(err, backends.ErrSourceChanged) {
		t.Errorf("the range being read when the file got a new revision: %v; want ErrSourceChanged", err)
	}
	rc.Close()
	rc, err = b.OpenPinned(t.Context(), listed, 128<<10, 64<<10)
	if err == nil {
		_, err = io.ReadAll(rc)
		rc.Close()
	}
	if !errors.Is(err, backends.ErrSourceChanged) {
		t.Errorf("the next range: %v; want ErrSourceChanged", err)
	}
}
