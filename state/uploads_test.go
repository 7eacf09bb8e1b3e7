package state_test

import (
	"context"
	"database/sql"
	"reflect"
	"testing"

	"syncer/backends"
	. "syncer/state"
)

func TestJournal(t *testing.T) {
	ctx := context.Background()
	path := newPath(t)
	st := open(t, path, true)
	j := st.Journal("media", Fingerprint{Size: 10 << 20, MTime: 7})

	id, _, parts, err := j.Load(ctx, "big.bin")
	if err != nil || id != "" || parts != nil {
		t.Fatalf("Load before Started = %q, %v, %v; want nothing", id, parts, err)
	}
	if err := j.Started(ctx, "big.bin", "upload-1", 5<<20); err != nil {
		t.Fatal(err)
	}
	want := []backends.Part{{Number: 1, Size: 5 << 20, ETag: "e1", Checksum: "c1"}, {Number: 2, Size: 5 << 20, ETag: "e2"}}
	for _, p := range []backends.Part{want[1], want[0]} { // out of order on purpose
		if err := j.PartDone(ctx, "big.bin", p); err != nil {
			t.Fatal(err)
		}
	}
	// Another sync's journal sees nothing of this one.
	if id, _, _, _ := st.Journal("other", Fingerprint{}).Load(ctx, "big.bin"); id != "" {
		t.Fatalf("other sync sees upload %q", id)
	}
	st.Close()

	// A reopened state (a resumed run) sees the upload and its parts in order.
	st = open(t, path, false)
	j = st.Journal("media", Fingerprint{Size: 10 << 20, MTime: 7})
	id, size, parts, err := j.Load(ctx, "big.bin")
	if err != nil || id != "upload-1" || size != 5<<20 || !reflect.DeepEqual(parts, want) {
		t.Fatalf("Load = %q, %d, %+v, %v; want upload-1, %d, %+v", id, size, parts, err, 5<<20, want)
	}
	ups, err := st.Uploads(ctx, "")
	if err != nil || len(ups) != 1 || ups[0].Key != "big.bin" || ups[0].ID != "upload-1" || ups[0].Src.Size != 10<<20 || ups[0].Src.MTime != 7 {
		t.Fatalf("Uploads = %+v, %v", ups, err)
	}

	// Starting again replaces the upload and drops the old parts.
	if err := j.Started(ctx, "big.bin", "upload-2", 8<<20); err != nil {
		t.Fatal(err)
	}
	if id, _, parts, _ := j.Load(ctx, "big.bin"); id != "upload-2" || len(parts) != 0 {
		t.Fatalf("after restart: %q with %d parts", id, len(parts))
	}
	if err := j.Finished(ctx, "big.bin"); err != nil {
		t.Fatal(err)
	}
	if ups, _ := st.Uploads(ctx, ""); len(ups) != 0 {
		t.Fatalf("uploads after Finished: %+v", ups)
	}
}

// A state written by schema 1 is migrated in place, keeping its records.
func TestMigrateFromSchema1(t *testing.T) {
	ctx := context.Background()
	path := newPath(t)
	st := open(t, path, true)
	st.Close()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DROP TABLE upload_parts`, `DROP TABLE uploads`,
		`UPDATE meta SET value = '1' WHERE key = 'schema_version'`,
		`INSERT INTO objects VALUES ('s', 'k', 1, 2, '', '', 1, 2, '', '', 3)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	db.Close()
	st = open(t, path, false)
	if _, ok, err := st.Get(ctx, "s", "k"); err != nil || !ok {
		t.Fatalf("record lost in migration: %v %v", ok, err)
	}
	if err := st.Journal("s", Fingerprint{}).Started(ctx, "k", "u", 5<<20); err != nil {
		t.Fatalf("uploads table missing after migration: %v", err)
	}
	var v string
	st.DB().QueryRow(`SELECT value FROM meta WHERE key = 'schema_version'`).Scan(&v)
	if v != "2" {
		t.Fatalf("schema_version = %q, want 2", v)
	}
}
