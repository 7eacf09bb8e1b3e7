// Command bench measures syncer beside cp -r and rclone on the same data in
// the same run, and prints wall time and peak RSS for each (see `make bench`).
// It is a measurement, not a test: it asserts nothing.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

type result struct {
	wall time.Duration
	rss  int64 // KiB
}

func main() {
	syncer := flag.String("syncer", "bin/syncer", "syncer binary")
	dir := flag.String("dir", filepath.Join(os.TempDir(), "syncer-bench"), "scratch folder (needs ~3 GiB)")
	runs := flag.Int("runs", 3, "runs per tool and case; the median is reported")
	only := flag.String("only", "", "run only cases whose name contains this")
	out := flag.String("out", "", "also write the table as Markdown to this file")
	flag.Parse()
	abs, err := filepath.Abs(*syncer)
	check(err)
	*syncer = abs
	rclone, _ := exec.LookPath("rclone")
	check(os.MkdirAll(*dir, 0o755))
	defer os.RemoveAll(*dir)

	var table []string
	row := func(name, tool string, r result, note string) {
		line := fmt.Sprintf("| %s | %s | %s | %.1f MiB | %s |", name, tool, r.wall.Round(time.Millisecond), float64(r.rss)/1024, note)
		fmt.Println(line)
		table = append(table, line)
	}
	fmt.Println("| case | tool | wall (median) | peak RSS | note |")
	fmt.Println("|---|---|---|---|---|")

	type bcase struct {
		name     string
		populate func(src string)
		rerun    bool // time a second, no-change run over a synced destination
	}
	cases := []bcase{
		{"1 GiB file", func(src string) { writeFile(filepath.Join(src, "big.bin"), 1<<30, 1) }, false},
		{"10,000 files of 4 KiB", func(src string) {
			for i := range 10000 {
				writeFile(filepath.Join(src, fmt.Sprintf("d%02d/f%05d.bin", i%100, i)), 4096, uint64(i))
			}
		}, false},
		{"no-change re-run, 100,000 files in one folder", func(src string) {
			for i := range 100000 {
				writeFile(filepath.Join(src, fmt.Sprintf("f%06d.txt", i)), 64, uint64(i))
			}
		}, true},
	}
	for _, c := range cases {
		if *only != "" && !strings.Contains(c.name, *only) {
			continue
		}
		root := filepath.Join(*dir, "case")
		check(os.RemoveAll(root))
		src := filepath.Join(root, "src")
		check(os.MkdirAll(src, 0o755))
		fmt.Fprintf(os.Stderr, "bench: generating %s\n", c.name)
		c.populate(src)

		tools := []struct {
			name string
			cmd  func(dst string) []string
		}{
			{"cp -r", func(dst string) []string { return []string{"cp", "-r", src, dst} }},
			{"syncer", func(dst string) []string {
				cfg := writeConfig(root, src, dst)
				return []string{*syncer, "apply", "-auto-approve", "-config", cfg}
			}},
		}
		if rclone != "" {
			tools = append(tools, struct {
				name string
				cmd  func(dst string) []string
			}{"rclone", func(dst string) []string {
				return []string{rclone, "--config", "/dev/null", "sync", "--transfers", "2", src, dst}
			}})
		}
		for _, t := range tools {
			if c.rerun && t.name == "cp -r" {
				continue // cp has no notion of a no-change run
			}
			var rs []result
			for i := range *runs {
				dst := filepath.Join(root, fmt.Sprintf("dst-%s-%d", strings.Fields(t.name)[0], i))
				os.RemoveAll(dst)
				os.Remove(filepath.Join(root, "syncer.db"))
				args := t.cmd(dst)
				if c.rerun {
					measure(args) // first run populates the destination
				}
				syncDisk()
				rs = append(rs, measure(args))
				os.RemoveAll(dst)
			}
			note := ""
			if c.rerun {
				note = "second run, nothing to copy"
			}
			row(c.name, t.name, median(rs), note)
		}
	}
	if rclone == "" {
		fmt.Println("\n(rclone not found: install Debian's rclone package to compare)")
	}
	if *out != "" {
		f, err := os.Create(*out)
		check(err)
		w := bufio.NewWriter(f)
		fmt.Fprintf(w, "| case | tool | wall (median of %d) | peak RSS | note |\n|---|---|---|---|---|\n", *runs)
		for _, l := range table {
			fmt.Fprintln(w, l)
		}
		check(w.Flush())
		check(f.Close())
	}
}

func writeConfig(root, src, dst string) string {
	cfg := filepath.Join(root, "bench.hcl")
	body := fmt.Sprintf(`state { path = %q }
backend "local" "src" { path = %q }
backend "local" "dst" { path = %q }
sync "bench" {
  from = backend.local.src
  to   = backend.local.dst
}
`, filepath.Join(root, "syncer.db"), src, dst)
	check(os.WriteFile(cfg, []byte(body), 0o644))
	return cfg
}

// measure runs args and returns its wall time and peak RSS. The RSS comes
// from GNU time, which fork()s: a child that Go starts with vfork reports
// Go's own RSS as its peak.
func measure(args []string) result {
	rssFile, err := os.CreateTemp("", "bench-rss-*")
	check(err)
	rssFile.Close()
	defer os.Remove(rssFile.Name())
	args = append([]string{"/usr/bin/time", "-q", "-f", "%M", "-o", rssFile.Name()}, args...)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout = io.Discard
	cmd.Env = append(os.Environ(), "SYNCER_LOG=warn")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		os.Exit(1)
	}
	b, err := os.ReadFile(rssFile.Name())
	check(err)
	var kib int64
	_, err = fmt.Sscan(strings.TrimSpace(string(b)), &kib)
	check(err)
	return result{wall: wall, rss: kib}
}

func median(rs []result) result {
	sort.Slice(rs, func(i, j int) bool { return rs[i].wall < rs[j].wall })
	m := rs[len(rs)/2]
	for _, r := range rs { // report the worst RSS seen
		m.rss = max(m.rss, r.rss)
	}
	return m
}

func syncDisk() { syscall.Sync() }

// writeFile writes size pseudo-random bytes, streaming.
func writeFile(path string, size int64, seed uint64) {
	check(os.MkdirAll(filepath.Dir(path), 0o755))
	f, err := os.Create(path)
	check(err)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	buf := make([]byte, 1<<20)
	for size > 0 {
		n := min(int64(len(buf)), size)
		for i := 0; i < int(n); i += 8 {
			v := rng.Uint64()
			for j := 0; j < 8 && i+j < int(n); j++ {
				buf[i+j] = byte(v >> (8 * j))
			}
		}
		_, err := f.Write(buf[:n])
		check(err)
		size -= n
	}
	check(f.Close())
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
