package e2e

// Shards of a sync from Google Drive split by top-level folder: each shard
// lists the root folder and its own subtrees only, so N shards spend about
// one listing of the tree in Drive requests (plus N-1 listings of the root
// folder), not N listings, and each file is downloaded once.

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"syncer/backends/gdrive/drivetest"
	"syncer/shard"
)

func TestDriveShardsListOnce(t *testing.T) {
	srv := newFakeDrive(t)
	root := srv.Mkdir("", "team")
	w := want{}
	// 12 top-level folders, each with a subfolder; files at every level.
	for f := range 12 {
		top := fmt.Sprintf("project-%02d", f)
		id := srv.Mkdir(root, top)
		sub := srv.Mkdir(id, "assets")
		for i := range 6 {
			k := fmt.Sprintf("%s/doc-%d.txt", top, i)
			b := driveSeeded(k, 200+i*50)
			srv.Add(drivetest.FileSpec{Name: fmt.Sprintf("doc-%d.txt", i), Parent: id, Content: b, Created: driveT0, Modified: driveT0})
			w[k] = b
			k = fmt.Sprintf("%s/assets/img-%d.bin", top, i)
			b = driveSeeded(k, 300+i*10)
			srv.Add(drivetest.FileSpec{Name: fmt.Sprintf("img-%d.bin", i), Parent: sub, Content: b, Created: driveT0, Modified: driveT0})
			w[k] = b
		}
	}
	for i := range 5 {
		k := fmt.Sprintf("root-%d.txt", i)
		b := driveSeeded(k, 100)
		srv.Add(drivetest.FileSpec{Name: k, Parent: root, Content: b, Created: driveT0, Modified: driveT0})
		w[k] = b
	}

	// One unsharded run: the reference request counts.
	run := func(t *testing.T, dir string, shards int) (lists, media int64, dst string) {
		t.Helper()
		dst = filepath.Join(dir, "dst")
		if err := os.MkdirAll(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		cfg := filepath.Join(dir, "syncer.hcl")
		writeHCL(t, cfg, filepath.Join(dir, "syncer.db"), nil,
			gdriveBlock{Name: "team", Srv: srv, Folder: root}.hcl(), localBlock("dst", dst),
			syncBlock("team", "backend.gdrive.team", "backend.local.dst", `delete = "all"`))
		srv.ResetStats()
		if shards == 0 {
			res := runDrive(t, dir, "apply", "-auto-approve", "-config", cfg)
			mustCode(t, "unsharded apply", res, 0, "Apply complete!")
		}
		for i := range shards {
			res := runDrive(t, dir, "apply", "-auto-approve", "-config", cfg, "-shard", fmt.Sprintf("%d/%d", i, shards))
			mustCode(t, fmt.Sprintf("shard %d/%d", i, shards), res, 0, "Apply complete!", "split by top-level folder")
			// The shard wrote only keys of its own top-level folders.
			for k := range recordedKeys(t, shard.Shard{Index: i, Count: shards}.Name(filepath.Join(dir, "syncer.db")), "team") {
				if !(shard.Shard{Index: i, Count: shards}).ContainsFolder(k, "") {
					t.Errorf("shard %d/%d recorded %q, of another shard's folder", i, shards, k)
				}
			}
		}
		st := srv.Stats()
		t.Logf("%d shards: %d requests: %v", shards, st.Requests, st.ByKind)
		return st.ByKind["list"], st.ByKind["media"] + st.ByKind["export"], dst
	}
	oneLists, oneMedia, oneDst := run(t, t.TempDir(), 0)
	assertDirHolds(t, oneDst, w)
	fourLists, fourMedia, fourDst := run(t, t.TempDir(), 4)
	assertDirHolds(t, fourDst, w)
	assertTreesEqual(t, oneDst, fourDst)

	// Each extra shard lists the root folder again (one page here), and
	// nothing else twice.
	if fourLists > oneLists+3 {
		t.Errorf("4 shards made %d files.list requests, one run %d: want at most %d (one listing, plus the root folder for each extra shard)", fourLists, oneLists, oneLists+3)
	}
	if fourMedia != oneMedia || fourMedia != int64(len(w)) {
		t.Errorf("4 shards downloaded %d times, one run %d; want each of the %d files once", fourMedia, oneMedia, len(w))
	}
}
