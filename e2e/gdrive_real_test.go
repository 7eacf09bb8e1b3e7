package e2e

// Google Drive as it really behaves (issue 17): runs of the built syncer
// against the fake Drive's realistic modes.

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"syncer/backends/gdrive/drivetest"
)

// TestGDriveDailyUploadCap: once Drive answers uploads with its daily cap
// (the same 403 userRateLimitExceeded "User rate limit exceeded." on
// every upload), apply takes no new object, exits 130 saying the limit
// was reached, and the state keeps what was finished: a run after the
// reset copies only the rest.
func TestGDriveDailyUploadCap(t *testing.T) {
	srv := newFakeDrive(t)
	l := newLayout(t)
	const files, size = 12, 3000
	for i := range files {
		writeSeeded(t, filepath.Join(l.Src, fmt.Sprintf("d%d/f%02d.bin", i%3, i)), fmt.Sprintf("cap/%d", i), size)
	}
	folder := srv.Mkdir("", "Capped")
	writeHCL(t, l.Config, l.State, nil,
		localBlock("src", l.Src),
		gdriveBlock{Name: "up", Srv: srv, Folder: folder}.hcl(),
		syncBlock("up", "backend.local.src", "backend.gdrive.up", `delete = "managed"`))

	srv.SetDailyCaps(3*size+1, -1) // the fourth upload is refused
	srv.ResetStats()
	res := runDrive(t, l.Base, "apply", "-auto-approve", "-config", l.Config)
	st := srv.Stats()
	t.Logf("apply under the cap: exit %d; %d requests, %d refused by the cap; %v", res.Code, st.Requests, st.Faults, st.ByKind)
	const msg = "Google Drive's daily upload limit reached; run again after it resets"
	if res.Code != 130 || !strings.Contains(res.Stdout, msg) {
		t.Fatalf("apply under the daily cap: want exit 130 and %q on stdout\n%s", msg, res)
	}
	// At most the two workers' uploads in flight meet the cap, each tried
	// three times; nothing after.
	if st.Faults == 0 || st.Faults > 6 {
		t.Errorf("the cap refused %d requests; want 1..6 (no new upload once it was seen)", st.Faults)
	}
	done := driveFiles(t, srv, folder)
	if len(done) < 3 || len(done) >= files {
		t.Errorf("Drive holds %d files after the capped run; want the 3+ finished before the cap, not all %d", len(done), files)
	}

	srv.SetDailyCaps(-1, -1) // the next day
	res = runDrive(t, l.Base, "apply", "-auto-approve", "-config", l.Config)
	if res.Code != 0 {
		t.Fatalf("apply after the reset: want exit 0\n%s", res)
	}
	if sum, line := parseApplyComplete(t, res); sum.Created != files-len(done) {
		t.Errorf("apply after the reset: %s; want the %d left created (the state kept the %d finished)", line, files-len(done), len(done))
	}
	assertDriveMatchesDir(t, srv, folder, l.Src)
	wantNoChanges(t, l.Base, l.Config, "after the reset")
}

// TestGDriveFileOverDriveLimitSkipped: a local file over Drive's 5,120 GB
// (sparse, so it takes no disk) is shown by the plan as one that cannot be
// written, naming the key and the limit, and apply skips it without a
// request for it, copying the rest.
func TestGDriveFileOverDriveLimitSkipped(t *testing.T) {
	srv := newFakeDrive(t)
	l := newLayout(t)
	writeSeeded(t, filepath.Join(l.Src, "small.txt"), "small", 100)
	huge := filepath.Join(l.Src, "video", "huge.mkv")
	if err := os.MkdirAll(filepath.Dir(huge), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(5121 << 30); err != nil {
		t.Fatalf("a sparse 5,121 GiB file: %v", err)
	}
	f.Close()
	folder := srv.Mkdir("", "Big")
	writeHCL(t, l.Config, l.State, nil,
		localBlock("src", l.Src),
		gdriveBlock{Name: "up", Srv: srv, Folder: folder}.hcl(),
		syncBlock("up", "backend.local.src", "backend.gdrive.up"))
	res := runDrive(t, l.Base, "plan", "-config", l.Config)
	t.Logf("plan:\n%s", res.Stdout)
	if res.Code != 0 || !strings.Contains(res.Stdout, "video/huge.mkv") || !strings.Contains(res.Stdout, "5,120 GB") || !strings.Contains(res.Stdout, "1 cannot be written") {
		t.Fatalf("plan: want video/huge.mkv shown as not writable (over 5,120 GB)\n%s", res)
	}
	srv.ResetStats()
	res = runDrive(t, l.Base, "apply", "-auto-approve", "-config", l.Config)
	if res.Code != 0 {
		t.Fatalf("apply: want exit 0\n%s", res)
	}
	if got := driveFiles(t, srv, folder); len(got) != 1 || got["small.txt"].ID == "" {
		t.Errorf("Drive holds %v; want only small.txt", got)
	}
	if st := srv.Stats(); st.Uploaded != 100 {
		t.Errorf("apply uploaded %d bytes; want only small.txt's 100", st.Uploaded)
	}
}

// TestGDriveSourceChangedDuringListing: an item of the Drive source is
// trashed while the plan lists it; Drive's offset page tokens then hide
// another item, still there, from the listing. The plan must fail saying
// the source changed, never plan a delete of the hidden item's copy; the
// next plan sees only the trashed one gone.
func TestGDriveSourceChangedDuringListing(t *testing.T) {
	srv := newFakeDrive(t)
	l := newLayout(t)
	folder := srv.Mkdir("", "Moving")
	ids := map[string]string{}
	w := want{}
	for i := range 2500 { // three pages of 1000
		name := fmt.Sprintf("f%04d", i)
		ids[name] = srv.Add(drivetest.FileSpec{Name: name, Parent: folder, Content: []byte(name)})
		w[name] = []byte(name)
	}
	writeHCL(t, l.Config, l.State, nil,
		gdriveBlock{Name: "src", Srv: srv, Folder: folder}.hcl(),
		localBlock("dst", l.Dst),
		syncBlock("down", "backend.gdrive.src", "backend.local.dst", `delete = "all"`))
	if res := runDrive(t, l.Base, "apply", "-auto-approve", "-config", l.Config); res.Code != 0 {
		t.Fatalf("first apply: want exit 0\n%s", res)
	}
	assertDirHolds(t, l.Dst, w)

	var once sync.Once
	srv.SetHook(func(r *http.Request) {
		if r.URL.Path == "/drive/v3/files" && r.URL.Query().Get("pageToken") != "" {
			once.Do(func() { srv.Trash(ids["f0000"]) })
		}
	})
	res := runDrive(t, l.Base, "apply", "-auto-approve", "-config", l.Config)
	srv.SetHook(nil)
	if res.Code != 1 || !strings.Contains(res.Stderr, "source changed during listing") {
		t.Fatalf("apply while the source changed under the listing: want exit 1 and \"source changed during listing\"\n%s", res)
	}
	assertDirHolds(t, l.Dst, w) // nothing deleted

	res = runDrive(t, l.Base, "plan", "-config", l.Config)
	if res.Code != 0 || !strings.Contains(res.Stdout, "0 to create, 0 to update, 1 to delete") || !strings.Contains(res.Stdout, "- f0000") {
		t.Errorf("plan after the change: want only f0000 deleted\n%s", res)
	}
}

// TestGDriveRequestsPerThousand archives 1,000 Drive files (in 115
// folders) into S3 and runs again with nothing changed, logging the Drive
// requests of each by kind (the figures of BENCHMARKS.md): a re-run
// downloads nothing and lists each folder once.
func TestGDriveRequestsPerThousand(t *testing.T) {
	env := needS3(t)
	srv := newFakeDrive(t)
	l := newLayout(t)
	folder, _, _ := driveGenTree(t, srv, "thousand", 1000, 100, 4000)
	bucket := newS3Bucket(t, env.A, "gdrive-counts")
	writeHCL(t, l.Config, l.State, nil,
		gdriveBlock{Name: "team", Srv: srv, Folder: folder}.hcl(),
		s3Block{Name: "archive", Srv: env.A, Bucket: bucket}.hcl(env),
		syncBlock("drive", "backend.gdrive.team", "backend.s3.archive", `delete = "managed"`))
	srv.ResetStats()
	res := runDrive(t, l.Base, "apply", "-auto-approve", "-config", l.Config)
	if res.Code != 0 {
		t.Fatalf("fresh archive: want exit 0\n%s", res)
	}
	fresh := srv.Stats()
	srv.ResetStats()
	res = runDrive(t, l.Base, "apply", "-auto-approve", "-config", l.Config)
	if res.Code != 0 {
		t.Fatalf("re-run: want exit 0\n%s", res)
	}
	again := srv.Stats()
	t.Logf("Drive requests for 1,000 files: fresh archive %d %v; no-change re-run %d %v", fresh.Requests, fresh.ByKind, again.Requests, again.ByKind)
	const folders = 1 + 23 + 23*5
	if again.ByKind["media"] != 0 || again.ByKind["export"] != 0 || again.ByKind["list"] > folders+2 {
		t.Errorf("no-change re-run: requests %v; want no download and about one list per folder (%d folders)", again.ByKind, folders)
	}
	if fresh.ByKind["media"] != 1000 {
		t.Errorf("fresh archive: %d downloads; want 1000", fresh.ByKind["media"])
	}
}

// TestGDriveRunsUnderNameLag: Drive's name search misses everything
// created in the last hour, so every run below finds the previous run's
// files and folders only by listing: an update is made in place (no
// second file), a new file in a folder an earlier run made goes into that
// folder (no twin), and a delete trashes the file rather than call it
// gone.
func TestGDriveRunsUnderNameLag(t *testing.T) {
	srv := newFakeDrive(t)
	srv.SetNameLag(time.Hour)
	l := newLayout(t)
	writeSeeded(t, filepath.Join(l.Src, "d/a.txt"), "lag/a", 100)
	writeSeeded(t, filepath.Join(l.Src, "d/e/b.txt"), "lag/b", 200)
	folder := srv.Mkdir("", "Lagging")
	writeHCL(t, l.Config, l.State, nil,
		localBlock("src", l.Src),
		gdriveBlock{Name: "up", Srv: srv, Folder: folder}.hcl(),
		syncBlock("up", "backend.local.src", "backend.gdrive.up", `delete = "managed"`))
	apply := func(what string) {
		t.Helper()
		if res := runDrive(t, l.Base, "apply", "-auto-approve", "-config", l.Config); res.Code != 0 {
			t.Fatalf("apply %s: want exit 0\n%s", what, res)
		}
		assertDriveMatchesDir(t, srv, folder, l.Src) // also: no two files at one key
	}
	apply("first")
	writeSeeded(t, filepath.Join(l.Src, "d/a.txt"), "lag/a2", 150)
	writeSeeded(t, filepath.Join(l.Src, "d/e/c.txt"), "lag/c", 50)
	apply("after an update and a new file")
	if err := os.Remove(filepath.Join(l.Src, "d/e/b.txt")); err != nil {
		t.Fatal(err)
	}
	apply("after a delete")
	if got := srv.Find(folder, "d"); len(got) != 1 {
		t.Errorf("%d folders named d; want 1", len(got))
	}
	for _, fi := range srv.Children(folder) {
		t.Logf("%s %s trashed=%v", fi.ID, fi.Name, fi.InTrash)
	}
	wantNoChanges(t, l.Base, l.Config, "under lag")
}
