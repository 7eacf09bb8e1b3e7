package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// millionCases: 1,000,000 one-byte files in 1,000 folders, local to local,
// beside rclone (issue 16's targets). One run each: generating the tree
// takes minutes, each copy several. The three cases share their folders in
// order: the fresh copy leaves each tool's destination and state, the
// no-change re-run reuses them, the plan runs against an empty destination.
func millionCases() []bcase {
	src := filepath.Join(scratch, "million-src")
	dst := func(tool string) string { return filepath.Join(scratch, "million-dst-"+tool) }
	state := filepath.Join(scratch, "million.db")
	config := func(to string) string {
		return writeConfig(fmt.Sprintf(`state { path = %q }
backend "local" "src" { path = %q }
backend "local" "dst" { path = %q }
sync "bench" {
  from = backend.local.src
  to   = backend.local.dst
}
`, state, src, to))
	}
	rclone := func(to string, extra ...string) []string {
		return append([]string{rcloneBin, "--config", "/dev/null", "sync", "--transfers", "2", src, to}, extra...)
	}
	fresh := []tool{{name: "syncer", prepare: func(int) []string {
		removeState(state)
		os.RemoveAll(dst("syncer"))
		return syncerApply(config(dst("syncer")))
	}}}
	rerun := []tool{{name: "syncer", prepare: func(int) []string { return syncerApply(config(dst("syncer"))) },
		cleanup: func(int) { os.RemoveAll(dst("syncer")) }}}
	plan := []tool{{name: "syncer", prepare: func(int) []string {
		removeState(state)
		return []string{syncerBin, "plan", "-config", config(dst("empty"))}
	}}}
	if rcloneBin != "" {
		fresh = append(fresh, tool{name: "rclone", prepare: func(int) []string {
			os.RemoveAll(dst("rclone"))
			return rclone(dst("rclone"))
		}})
		rerun = append(rerun, tool{name: "rclone", prepare: func(int) []string { return rclone(dst("rclone")) },
			cleanup: func(int) { os.RemoveAll(dst("rclone")) }})
		plan = append(plan, tool{name: "rclone", prepare: func(int) []string {
			return rclone(dst("empty"), "--dry-run")
		}})
	}
	noop := func() {}
	return []bcase{
		{name: "1,000,000 one-byte files: fresh copy", note: "1,000 folders of 1,000", runs: 1, tools: fresh,
			gen: func() { genMillion(src) }},
		{name: "1,000,000 one-byte files: no-change re-run", note: "over the fresh copy's destination", runs: 1, tools: rerun, gen: noop},
		{name: "1,000,000 one-byte files: plan, empty destination", note: "rclone: sync --dry-run", runs: 1, tools: plan, gen: noop},
	}
}

// genMillion writes 1,000 folders of 1,000 one-byte files under src.
func genMillion(src string) {
	check(os.RemoveAll(src))
	var wg sync.WaitGroup
	folders := make(chan int)
	for range 4 {
		wg.Go(func() {
			for d := range folders {
				dir := filepath.Join(src, fmt.Sprintf("d%03d", d))
				check(os.MkdirAll(dir, 0o755))
				for i := range 1000 {
					check(os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d", i)), []byte{byte('a' + i%26)}, 0o644))
				}
			}
		})
	}
	for d := range 1000 {
		folders <- d
	}
	close(folders)
	wg.Wait()
}
