package e2e

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFilesFromMemory: a files_from list of 2,000,000 keys (about 40 MB)
// is streamed by validate and by the plan into SQLite: the peak RSS stays
// under the bound of every measured run, and exactly the listed keys that
// exist are copied.
func TestFilesFromMemory(t *testing.T) {
	l := newLayout(t)
	logFloor(t, l.Base)
	const n = 2_000_000
	f, err := os.Create(filepath.Join(l.Base, "keys.txt"))
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := range n {
		fmt.Fprintf(w, "dir%03d/key-%08d.txt\n", i%1000, i)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// Two listed keys exist, one unlisted key too.
	for _, k := range []string{"dir007/key-00000007.txt", "dir999/key-01999999.txt", "dir000/unlisted.txt"} {
		writeFile(t, filepath.Join(l.Src, k), []byte(k))
	}
	cfg := fmt.Sprintf(`state {
  path = %s
}
backend "local" "src" {
  path = %s
}
backend "local" "dst" {
  path = %s
}
sync "s" {
  from       = backend.local.src
  to         = backend.local.dst
  files_from = "keys.txt"
}
`, hclString(l.State), hclString(l.Src), hclString(l.Dst))
	writeFile(t, l.Config, []byte(cfg))
	res := runMeasured(t, l.Base, syncerEnv(), "apply", "-auto-approve", "-config", l.Config)
	if res.Code != 0 {
		t.Fatalf("apply: want exit 0\n%s", res)
	}
	t.Logf("apply with a %d-key files_from list: peak RSS %s, %s", n, mib(res.MaxRSSKiB), res.Elapsed.Round(1e6))
	checkRSS(t, "apply with a 2,000,000-key files_from list", res)
	if !strings.Contains(res.Stdout, "Plan: 2 to create, 0 to update, 0 to delete, 1 excluded by filters (") {
		t.Errorf("plan: want 2 creates and 1 excluded\n%s", res)
	}
	for _, k := range []string{"dir007/key-00000007.txt", "dir999/key-01999999.txt"} {
		if b, err := os.ReadFile(filepath.Join(l.Dst, k)); err != nil || string(b) != k {
			t.Errorf("%s: %q, %v", k, b, err)
		}
	}
	if _, err := os.Stat(filepath.Join(l.Dst, "dir000", "unlisted.txt")); err == nil {
		t.Errorf("the unlisted key was copied")
	}
}
