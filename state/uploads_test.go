package state_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
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
		`DROP TABLE failures`, `DROP TABLE upload_parts`, `DROP TABLE uploads`,
		`ALTER TABLE objects DROP COLUMN src_id`, `ALTER TABLE objects DROP COLUMN dst_id`, `DROP TABLE backend_ids`, `ALTER TABLE pending DROP COLUMN id`,
		`UPDATE meta SET value = '1' WHERE key = 'schema_version'`,
		`INSERT INTO objects VALUES ('s', 'k', 1, 2, '', '', 1, 2, '', '', 3)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	db.Close()
	st = open(t, path, false)
	if r, ok, err := st.Get(ctx, "s", "k"); err != nil || !ok || r.Src.Size != 1 || r.Dst.MTime != 2 || r.Src.ID != "" || r.Dst.ID != "" {
		t.Fatalf("record after migration = %+v, %v %v", r, ok, err)
	}
	if err := st.Journal("s", Fingerprint{}).Started(ctx, "k", "u", 5<<20); err != nil {
		t.Fatalf("uploads table missing after migration: %v", err)
	}
	var v string
	st.DB().QueryRow(`SELECT value FROM meta WHERE key = 'schema_version'`).Scan(&v)
	if v != strconv.Itoa(SchemaVersion) {
		t.Fatalf("schema_version = %q, want %d", v, SchemaVersion)
	}
	if err := st.AddFailures(ctx, []Failure{{Sync: "s", Key: "k", Action: "create", Error: "e"}}); err != nil {
		t.Fatalf("failures table missing after migration: %v", err)
	}
}

// A state whose SQLite pages are damaged is refused with a message saying
// it is corrupt, and the file is left byte for byte as it was.
func TestOpenCorruptState(t *testing.T) {
	ctx := context.Background()
	path := newPath(t)
	st := open(t, path, true)
	if err := st.Apply(ctx, []Change{{Record: Record{Sync: "s", Key: "k"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	st.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{100, 4096} {
		bad := append([]byte(nil), data...)
		if cut == 100 {
			bad = bad[:100] // the header survives, the rest is gone
		} else {
			for i := 4096; i < len(bad); i++ {
				bad[i] = 0xff // every page after the first is garbage
			}
		}
		if err := os.WriteFile(path, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		os.Remove(path + "-wal")
		os.Remove(path + "-shm")
		s, err := Open(ctx, path, true)
		if err == nil {
			s.Close()
			t.Fatalf("cut %d: a corrupt state was opened", cut)
		}
		if !strings.Contains(err.Error(), "corrupt") {
			t.Errorf("cut %d: err = %v; want it to say the state is corrupt", cut, err)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(after, bad) {
			t.Errorf("cut %d: the corrupt state file was modified", cut)
		}
	}
}

// A state file made by schema 3 (before ids) opens, gains the id columns
// with ” for its rows, keeps them, and then records ids.
func TestMigrateFromSchema3(t *testing.T) {
	ctx := context.Background()
	path := newPath(t)
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	qs := append([]string{}, Migrations[:3]...)
	qs = append(qs,
		fmt.Sprintf("PRAGMA application_id = %d", ApplicationID),
		`INSERT INTO meta(key, value) VALUES ('lineage', 'l-3'), ('serial', '5'), ('schema_version', '3')`,
		`INSERT INTO objects VALUES ('s', 'k', 1, 2, 'e', 'm', 3, 4, 'f', 'n', 5)`)
	for _, q := range qs {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	db.Close()
	st := open(t, path, false)
	r, ok, err := st.Get(ctx, "s", "k")
	want := Record{Sync: "s", Key: "k", Src: Fingerprint{Size: 1, MTime: 2, ETag: "e", MD5: "m"},
		Dst: Fingerprint{Size: 3, MTime: 4, ETag: "f", MD5: "n"}}
	if err != nil || !ok || r.Src != want.Src || r.Dst != want.Dst || r.Written.UnixNano() != 5 {
		t.Fatalf("record after migration = %+v, %v %v; want %+v", r, ok, err, want)
	}
	if v, err := st.Version(ctx); err != nil || v.Lineage != "l-3" || v.Serial != 5 {
		t.Fatalf("version after migration = %+v, %v", v, err)
	}
	if id, _, err := st.DstID(ctx, "s", "k"); err != nil || id != "" {
		t.Fatalf("DstID of a migrated row = %q, %v", id, err)
	}
	want.Src.ID, want.Dst.ID = "src-1", "dst-1"
	if err := st.Apply(ctx, []Change{{Record: want}}); err != nil {
		t.Fatal(err)
	}
	if r, _, err := st.Get(ctx, "s", "k"); err != nil || r.Src != want.Src || r.Dst != want.Dst {
		t.Fatalf("record with ids = %+v, %v", r, err)
	}
	if id, _, err := st.DstID(ctx, "s", "k"); err != nil || id != "dst-1" {
		t.Fatalf("DstID = %q, %v; want dst-1", id, err)
	}
	if id, ann, err := st.DstID(ctx, "s", "missing"); err != nil || id != "" || ann != "" {
		t.Fatalf("DstID of a missing key = %q, %q, %v", id, ann, err)
	}
}
