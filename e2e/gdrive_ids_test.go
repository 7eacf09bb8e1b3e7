package e2e

import (
	"bytes"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"syncer/backends/gdrive/drivetest"
)

// stateMap runs query, of two text columns, on the state at path and
// returns its rows as a map from the first to the second.
func stateMap(t *testing.T, path, query string, args ...any) map[string]string {
	t.Helper()
	db, err := openStateRO(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(query, args...)
	if err != nil {
		t.Fatalf("state %s: %v", path, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		out[k] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("state %s: %v", path, err)
	}
	return out
}

// TestGDriveIDsUnderNameLag: Drive's name search misses everything made in
// the last hour. The state records the Drive id of every file apply
// writes, and later runs address those files by id: an update is made in
// place (same id, no second file) and a delete trashes the file, both
// without a single name query; a new file in a folder a run made in the
// previous run goes into that folder (no twin); and Drive -> local right
// after the files were made reads every file by its listed id (no name
// query), byte for byte.
func TestGDriveIDsUnderNameLag(t *testing.T) {
	srv := newFakeDrive(t)
	srv.SetNameLag(time.Hour)
	l := newLayout(t)
	writeSeeded(t, filepath.Join(l.Src, "d/a.txt"), "ids/a", 100)
	writeSeeded(t, filepath.Join(l.Src, "d/e/b.txt"), "ids/b", 200)
	writeSeeded(t, filepath.Join(l.Src, "c.txt"), "ids/c", 300)
	folder := srv.Mkdir("", "Lagging")
	writeHCL(t, l.Config, l.State, nil,
		localBlock("src", l.Src),
		gdriveBlock{Name: "up", Srv: srv, Folder: folder}.hcl(),
		syncBlock("up", "backend.local.src", "backend.gdrive.up", `delete = "managed"`))
	apply := func(what string) map[string]string {
		t.Helper()
		srv.ResetStats()
		if res := runDrive(t, l.Base, "apply", "-auto-approve", "-config", l.Config); res.Code != 0 {
			t.Fatalf("apply %s: want exit 0\n%s", what, res)
		}
		files := assertDriveMatchesDir(t, srv, folder, l.Src)
		ids := stateMap(t, l.State, `SELECT key, dst_id FROM objects WHERE sync = ?`, "up")
		for k, fi := range files {
			if ids[k] != fi.ID {
				t.Errorf("after %s: the state records id %q for %q; Drive's file is %q", what, ids[k], k, fi.ID)
			}
		}
		if len(ids) != len(files) {
			t.Errorf("after %s: the state records %d keys; Drive holds %d files", what, len(ids), len(files))
		}
		return ids
	}
	first := apply("first")

	writeSeeded(t, filepath.Join(l.Src, "d/e/b.txt"), "ids/b2", 250)
	ids := apply("an update")
	if ids["d/e/b.txt"] != first["d/e/b.txt"] {
		t.Errorf("d/e/b.txt has id %q after its update; want %q (updated in place)", ids["d/e/b.txt"], first["d/e/b.txt"])
	}
	if n := srv.NameQueries(); n != 0 {
		t.Errorf("the update made %d name queries; want 0 (by id)", n)
	}

	if err := os.Remove(filepath.Join(l.Src, "c.txt")); err != nil {
		t.Fatal(err)
	}
	apply("a delete")
	if fi, ok := srv.Get(first["c.txt"]); !ok || !fi.Trashed {
		t.Errorf("c.txt's file after the delete: %+v (known %v); want it trashed", fi, ok)
	}
	if n := srv.NameQueries(); n != 0 {
		t.Errorf("the delete made %d name queries; want 0 (by id)", n)
	}

	writeSeeded(t, filepath.Join(l.Src, "d/f/x.txt"), "ids/x", 10)
	apply("a new file in a new folder")
	writeSeeded(t, filepath.Join(l.Src, "d/f/y.txt"), "ids/y", 20)
	apply("a second new file in that folder")
	d := srv.Find(folder, "d")
	if len(d) != 1 {
		t.Fatalf("%d folders named d; want 1", len(d))
	}
	f := srv.Find(d[0].ID, "f")
	if len(f) != 1 {
		t.Fatalf("%d folders named d/f; want 1 (no twin)", len(f))
	}
	// The folders apply made are journalled in the state, by id.
	want := map[string]string{"d": d[0].ID, "d/e": srv.Find(d[0].ID, "e")[0].ID, "d/f": f[0].ID}
	if got := stateMap(t, l.State, `SELECT key, id FROM backend_ids`); !maps.Equal(got, want) {
		t.Errorf("the state's folder ids = %v; want %v", got, want)
	}
	wantNoChanges(t, l.Base, l.Config, "under lag")

	// Drive -> local, right after: every file is read by its listed id.
	down := filepath.Join(l.Base, "down.hcl")
	writeHCL(t, down, filepath.Join(l.Base, "state", "down.db"), nil,
		gdriveBlock{Name: "drive", Srv: srv, Folder: folder}.hcl(),
		localBlock("dst", l.Dst),
		syncBlock("down", "backend.gdrive.drive", "backend.local.dst"))
	srv.ResetStats()
	if res := runDrive(t, l.Base, "apply", "-auto-approve", "-config", down); res.Code != 0 {
		t.Fatalf("apply Drive -> local: want exit 0\n%s", res)
	}
	if n := srv.NameQueries(); n != 0 {
		t.Errorf("Drive -> local made %d name queries; want 0 (read by id)", n)
	}
	n := 0
	err := filepath.WalkDir(l.Src, func(p string, de os.DirEntry, err error) error {
		if err != nil || !de.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(l.Src, p)
		want, _ := os.ReadFile(p)
		got, err := os.ReadFile(filepath.Join(l.Dst, rel))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s after Drive -> local: %d bytes (%v); want %d bytes equal to the source", rel, len(got), err, len(want))
		}
		n++
		return nil
	})
	if err != nil || n != 4 {
		t.Errorf("walked %d source files (%v); want 4", n, err)
	}
}

// TestGDriveLostCreateFoundByID: a create whose answer is lost (and whose
// id Drive then cannot be asked about) fails the apply, but the id it was
// made under was announced to the state first. The next apply, trusting
// the state (-refresh=false: it plans a create again) under name-search
// lag, finds the file by that id and writes it in place: no duplicate.
func TestGDriveLostCreateFoundByID(t *testing.T) {
	srv := newFakeDrive(t)
	srv.SetNameLag(time.Hour)
	l := newLayout(t)
	writeSeeded(t, filepath.Join(l.Src, "d/a.txt"), "lost/a", 100)
	folder := srv.Mkdir("", "Lagging")
	writeHCL(t, l.Config, l.State, nil,
		localBlock("src", l.Src),
		gdriveBlock{Name: "up", Srv: srv, Folder: folder}.hcl(),
		syncBlock("up", "backend.local.src", "backend.gdrive.up"))
	srv.AddFault(drivetest.Fault{DropResponse: true, Count: 1,
		Match: func(_ *http.Request, kind string) bool { return kind == "upload-multipart" }})
	srv.AddFault(drivetest.Fault{Status: http.StatusNotFound, Count: 1,
		Match: func(r *http.Request, kind string) bool { return kind == "get" }})
	if res := runDrive(t, l.Base, "apply", "-auto-approve", "-config", l.Config); res.Code == 0 {
		t.Fatalf("apply with the create's answer lost: want a failure\n%s", res)
	}
	srv.ClearFaults()
	made := driveFiles(t, srv, folder)
	if len(made) != 1 {
		t.Fatalf("Drive holds %v after the lost create; want d/a.txt (made, its answer lost)", made)
	}
	applyFindsMade(t, srv, folder, l, "d/a.txt", made["d/a.txt"].ID)
}

// applyFindsMade runs apply without refreshing (names lag) and checks that
// key is still the file id that an earlier, failed create made, in Drive
// and in the state, and that Drive matches the source.
func applyFindsMade(t *testing.T, srv *drivetest.Server, folder string, l layout, key, id string) {
	t.Helper()
	if res := runDrive(t, l.Base, "apply", "-auto-approve", "-refresh=false", "-config", l.Config); res.Code != 0 {
		t.Fatalf("apply again: want exit 0\n%s", res)
	}
	files := assertDriveMatchesDir(t, srv, folder, l.Src) // fails on two files at one key
	if files[key].ID != id {
		t.Errorf("%s is file %s; want %s, the one the failed create made", key, files[key].ID, id)
	}
	if ids := stateMap(t, l.State, `SELECT key, dst_id FROM objects`); ids[key] != id {
		t.Errorf("the state records %v; want %s at %s", ids, key, id)
	}
}

// TestGDriveLostResumableFoundByID: a file over the chunk size goes up in
// a resumable session, which is never sent twice; when the answer to its
// last chunk lacks the file, the upload fails, yet Drive made the file.
// Its generated id, announced before the session began, finds it in the
// next run (names lag an hour): updated in place, no second file.
func TestGDriveLostResumableFoundByID(t *testing.T) {
	srv := newFakeDrive(t)
	srv.SetNameLag(time.Hour)
	l := newLayout(t)
	const size = 600 << 10 // three chunks of 256 KiB
	writeSeeded(t, filepath.Join(l.Src, "d/big.bin"), "lost/big", size)
	folder := srv.Mkdir("", "Lagging")
	writeHCL(t, l.Config, l.State, nil,
		localBlock("src", l.Src),
		gdriveBlock{Name: "up", Srv: srv, Folder: folder, ChunkSize: "256KiB"}.hcl(),
		syncBlock("up", "backend.local.src", "backend.gdrive.up"))
	last := "bytes " + strconv.Itoa(512<<10) + "-" + strconv.Itoa(size-1) + "/" + strconv.Itoa(size)
	srv.AddFault(drivetest.Fault{Count: 1,
		Rewrite: func(body map[string]any) { delete(body, "id") },
		Match: func(r *http.Request, kind string) bool {
			return kind == "upload-chunk" && r.Header.Get("Content-Range") == last
		}})
	if res := runDrive(t, l.Base, "apply", "-auto-approve", "-config", l.Config); res.Code == 0 {
		t.Fatalf("apply with the upload's last answer lacking the file: want a failure\n%s", res)
	}
	srv.ClearFaults()
	made := driveFiles(t, srv, folder)
	if len(made) != 1 || made["d/big.bin"].ID == "" {
		t.Fatalf("Drive holds %v after the failed upload; want d/big.bin (made, its answer lacking it)", made)
	}
	if st := srv.Stats(); st.ByKind["upload-init"] != 1 || st.ByKind["upload-multipart"] != 0 {
		t.Fatalf("requests %v; want one resumable session", st.ByKind)
	}
	applyFindsMade(t, srv, folder, l, "d/big.bin", made["d/big.bin"].ID)
}
