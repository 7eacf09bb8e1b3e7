package e2e

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// rssLimitKiB bounds the peak RSS of every measured syncer run: memory is
// bounded by the configuration, never by object size or object count.
const rssLimitKiB = 64 << 10

// logFloor logs the floor under every figure measured here: the peak RSS
// the helper reports for `true` (what the helper's own memory image adds,
// see rusageHelper) and for `syncer version` (a syncer doing nothing).
func logFloor(t *testing.T, dir string) {
	t.Helper()
	if tr, err := exec.LookPath("true"); err == nil {
		res := runMeasuredCmd(t, dir, syncerEnv(), tr)
		t.Logf("floor: `true` peak RSS %s (measurement overhead)", mib(res.MaxRSSKiB))
	}
	res := runMeasured(t, dir, syncerEnv(), "version")
	if res.Code != 0 {
		t.Fatalf("syncer version: want exit 0\n%s", res)
	}
	t.Logf("floor: `syncer version` peak RSS %s", mib(res.MaxRSSKiB))
}

// checkRSS fails the test when a measured run went over rssLimitKiB.
func checkRSS(t *testing.T, what string, res result) {
	t.Helper()
	if res.MaxRSSKiB <= 0 {
		t.Errorf("%s: no peak RSS measured", what)
	} else if res.MaxRSSKiB >= rssLimitKiB {
		t.Errorf("%s: peak RSS %s, want < %s", what, mib(res.MaxRSSKiB), mib(rssLimitKiB))
	}
}

// requireFreeSpace fails (does not skip) when dir's filesystem has less than
// need bytes available.
func requireFreeSpace(t *testing.T, dir string, need int64) {
	t.Helper()
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		t.Fatalf("statfs %s: %v", dir, err)
	}
	if avail := int64(fs.Bavail) * int64(fs.Bsize); avail < need {
		t.Fatalf("this test needs %.1f GiB free under %s (source and destination copies of a 1 GiB file); only %.1f GiB available. Free some space or point TMPDIR elsewhere.",
			float64(need)/(1<<30), dir, float64(avail)/(1<<30))
	}
}

// genLargeFile streams size bytes of deterministic pseudo-random data to
// path through a 1 MiB buffer and returns their sha256.
func genLargeFile(t *testing.T, path string, size int64) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	if _, err := io.CopyN(w, rand.NewChaCha8(seedFor("large")), size); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestMemoryOneGiBFile copies one 1 GiB file and checks that the process's
// peak RSS stays far below the object's size.
func TestMemoryOneGiBFile(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the 1 GiB copy")
	}
	l := newLayout(t)
	const size = 1 << 30
	requireFreeSpace(t, l.Base, size*2+size/5) // src + dst + state and slack: ~2.2 GiB
	logFloor(t, l.Base)

	start := time.Now()
	srcSum := genLargeFile(t, filepath.Join(l.Src, "big.bin"), size)
	t.Logf("generated 1 GiB source in %.1fs", time.Since(start).Seconds())
	// The default copies in the kernel (copy_file_range); checksum mode
	// streams the bytes through syncer to hash them.
	for _, compare := range []string{"", "checksum"} {
		what := "1 GiB copy"
		if compare != "" {
			what = "1 GiB copy, compare = " + compare + " (streamed)"
			for _, p := range []string{l.Dst, l.State, l.State + "-wal", l.State + "-shm"} {
				if err := os.RemoveAll(p); err != nil {
					t.Fatal(err)
				}
			}
		}
		cfg := l.config()
		cfg.Compare = compare
		cfg.write(t, l.Config)

		res := runMeasured(t, l.Base, syncerEnv(), "apply", "-auto-approve", "-config", l.Config)
		t.Logf("%s: peak RSS %s in %.1fs (exit %d)", what, mib(res.MaxRSSKiB), res.Elapsed.Seconds(), res.Code)
		if res.Code != 0 {
			t.Fatalf("%s: want exit 0\n%s", what, res)
		}
		sum, _ := parseApplyComplete(t, res)
		if sum.Created != 1 {
			t.Errorf("%s: created %d objects; want 1", what, sum.Created)
		}
		checkRSS(t, what, res)

		dstSum, n, err := hashFile(filepath.Join(l.Dst, "big.bin"), make([]byte, 1<<20))
		if err != nil {
			t.Fatal(err)
		}
		if n != size || dstSum != srcSum {
			t.Errorf("%s: destination is %d bytes with sha256 %s; want %d bytes, %s", what, n, dstSum, int64(size), srcSum)
		}
		if snap := snapshotDst(t, l.Dst); len(snap.Files) != 1 || len(snap.Temps) != 0 {
			t.Errorf("%s: destination holds %d files and temporary files %q; want just big.bin", what, len(snap.Files), snap.Temps)
		}
	}
}

// genSmallFiles writes n files of 0-200 bytes spread over folders folders
// (deterministic content), two writers at a time.
func genSmallFiles(t *testing.T, root string, n, folders int) {
	t.Helper()
	perFolder := n / folders
	work := make(chan int)
	errs := make(chan error, folders)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 200)
			for d := range work {
				dir := filepath.Join(root, fmt.Sprintf("folder-%03d", d))
				if err := os.MkdirAll(dir, 0o755); err != nil {
					errs <- err
					continue
				}
				data := rand.NewChaCha8(seedFor(fmt.Sprintf("small/%d", d)))
				sizes := rand.New(rand.NewPCG(uint64(d), 200))
				for i := range perFolder {
					b := buf[:sizes.IntN(201)]
					data.Read(b)
					if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%06d.dat", d*perFolder+i)), b, 0o644); err != nil {
						errs <- err
						break
					}
				}
			}
		}()
	}
	for d := range folders {
		work <- d
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestMemoryManySmallFiles copies 100,000 small files and plans again: the
// peak RSS must not grow with the number of objects.
func TestMemoryManySmallFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the 100,000-file copy")
	}
	l := newLayout(t)
	const total, folders = 100_000, 100
	logFloor(t, l.Base)

	start := time.Now()
	genSmallFiles(t, l.Src, total, folders)
	t.Logf("generated %d files in %d folders in %.1fs", total, folders, time.Since(start).Seconds())
	l.config().write(t, l.Config)

	res := runMeasured(t, l.Base, syncerEnv(), "apply", "-auto-approve", "-config", l.Config)
	t.Logf("100,000-file apply: peak RSS %s in %.1fs (exit %d)", mib(res.MaxRSSKiB), res.Elapsed.Seconds(), res.Code)
	if res.Code != 0 {
		t.Fatalf("apply: want exit 0\n%s", res)
	}
	sum, line := parseApplyComplete(t, res)
	t.Logf("apply: %s", line)
	if sum.Created != total {
		t.Errorf("apply created %d objects; want %d", sum.Created, total)
	}
	checkRSS(t, "100,000-file apply", res)

	start = time.Now()
	if n := assertTreesEqual(t, l.Src, l.Dst); n != total {
		t.Errorf("compared %d source files; want %d", n, total)
	}
	t.Logf("compared the trees in %.1fs", time.Since(start).Seconds())

	res = runMeasured(t, l.Base, syncerEnv(), "plan", "-detailed-exitcode", "-config", l.Config)
	t.Logf("100,000-file plan (no changes): peak RSS %s in %.1fs (exit %d)", mib(res.MaxRSSKiB), res.Elapsed.Seconds(), res.Code)
	if res.Code != 0 {
		t.Errorf("plan -detailed-exitcode after apply: want exit 0\n%s", res)
	}
	if !strings.Contains(res.Stdout, "No changes.") {
		t.Errorf("plan after apply does not say \"No changes.\"\n%s", res)
	}
	checkRSS(t, "100,000-file plan", res)

	checkManyFiles(t, l)

	// Remove the 200,000 files here rather than in t.TempDir's cleanup, to
	// show what that costs.
	start = time.Now()
	if err := os.RemoveAll(l.Base); err != nil {
		t.Errorf("removing the test folders: %v", err)
	}
	t.Logf("removed the test folders in %.1fs", time.Since(start).Seconds())
}

// checkManyFiles runs syncer check over the 100,000 copied files: they
// match; then a byte flipped in one destination file (same size), one
// removed and one added are found, -download reading every file, with
// memory as bounded as plan's.
func checkManyFiles(t *testing.T, l layout) {
	t.Helper()
	res := runMeasured(t, l.Base, syncerEnv(), "check", "-config", l.Config)
	t.Logf("100,000-file check: peak RSS %s in %.1fs (exit %d)", mib(res.MaxRSSKiB), res.Elapsed.Seconds(), res.Code)
	if res.Code != 0 || !strings.Contains(res.Stdout, "the destinations match their sources; 100000 matching") {
		t.Fatalf("check after apply: want exit 0 and a match\n%s", res)
	}
	checkRSS(t, "100,000-file check", res)

	dir := filepath.Join(l.Dst, "folder-007")
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var flipped string
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 0 {
			b[len(b)/2] ^= 1
			writeFile(t, filepath.Join(dir, n.Name()), b)
			flipped = "folder-007/" + n.Name()
			break
		}
	}
	removed := "folder-042/" + names[0].Name()
	if err := os.Remove(filepath.Join(l.Dst, "folder-042", names[0].Name())); err != nil {
		// names come from folder-007; folder-042 holds other numbers.
		entries, _ := os.ReadDir(filepath.Join(l.Dst, "folder-042"))
		removed = "folder-042/" + entries[0].Name()
		if err := os.Remove(filepath.Join(l.Dst, removed)); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(l.Dst, "folder-099", "extra.dat"), []byte("extra"))

	res = runMeasured(t, l.Base, syncerEnv(), "check", "-download", "-config", l.Config)
	t.Logf("100,000-file check -download: peak RSS %s in %.1fs (exit %d)", mib(res.MaxRSSKiB), res.Elapsed.Seconds(), res.Code)
	if res.Code != 2 {
		t.Fatalf("check -download after three changes: want exit 2\n%s", res)
	}
	if strings.Contains(res.Stdout, "not compared") {
		t.Errorf("check -download left pairs uncompared\n%s", res)
	}
	for _, want := range []string{
		"  + " + removed + " (only in source, ",
		"  - folder-099/extra.dat (only in destination, 5 B)",
		"  ~ " + flipped + " (content differs: md5 ",
		"Check: 3 differences (1 only in a source, 1 only in a destination, 1 differing); 99998 matching.",
	} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("check -download: no %q in\n%s", want, res)
		}
	}
	checkRSS(t, "100,000-file check -download", res)
}
