// Command bench measures syncer beside cp -r and rclone on the same data in
// the same run, and prints wall time and peak RSS for each (see `make bench`).
// The S3 cases run against local versitygw servers that it starts with
// scripts/s3-server.sh. It is a measurement, not a test: it asserts nothing.
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

	"golang.org/x/sys/unix"
)

type result struct {
	wall time.Duration
	rss  int64 // KiB
	anon int64 // KiB, sampled: see sampleAnon
}

// tool is one contender in a case. prepare runs untimed before each
// measured run and returns the command to measure.
type tool struct {
	name    string
	prepare func(run int) []string
	cleanup func(run int)
}

type bcase struct {
	name  string
	note  string
	gen   func() // makes the case's data, once
	tools []tool
	runs  int // 0: the -runs flag
}

var (
	syncerBin string
	rcloneBin string
	scratch   string
	s3env     map[string]string // from scripts/s3-server.sh; nil without S3
	coldStart bool
)

func main() {
	flagSyncer := flag.String("syncer", "bin/syncer", "syncer binary")
	dir := flag.String("dir", filepath.Join(os.TempDir(), "syncer-bench"), "scratch folder (needs ~6 GiB)")
	runs := flag.Int("runs", 3, "runs per tool and case; the median is reported")
	only := flag.String("only", "", "run only cases whose name contains this")
	out := flag.String("out", "", "also write the table as Markdown to this file")
	withS3 := flag.Bool("s3", true, "also run the S3 cases (needs versitygw: scripts/s3-server.sh install)")
	million := flag.Bool("million", false, "also run the 1,000,000-file local cases (about 25 minutes on 2 cores)")
	flag.BoolVar(&coldStart, "cold", true, "drop each tool's binary from the page cache before each run (see evict)")
	flag.Parse()
	abs, err := filepath.Abs(*flagSyncer)
	check(err)
	syncerBin = abs
	rcloneBin, _ = exec.LookPath("rclone")
	scratch = *dir
	check(os.RemoveAll(scratch))
	check(os.MkdirAll(scratch, 0o755))
	defer os.RemoveAll(scratch)

	cases := localCases()
	if *million {
		cases = append(cases, millionCases()...)
	}
	if *withS3 {
		if stop := startS3(); stop != nil {
			defer stop()
			cases = append(cases, s3Cases()...)
			cases = append(cases, shardCases()...)
		}
	}

	var table []string
	fmt.Println("| case | tool | wall (median) | peak RSS | peak anon | note |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, c := range cases {
		if *only != "" && !strings.Contains(c.name, *only) {
			continue
		}
		fmt.Fprintf(os.Stderr, "bench: preparing %s\n", c.name)
		c.gen()
		n := *runs
		if c.runs > 0 {
			n = min(n, c.runs)
		}
		// Runs interleave the tools, so that each meets the disk in the
		// same state (writeback of the previous run's files, say).
		rs := make([][]result, len(c.tools))
		for i := range n {
			for ti, t := range c.tools {
				args := t.prepare(i)
				syscall.Sync()
				rs[ti] = append(rs[ti], measure(args))
				if t.cleanup != nil {
					t.cleanup(i)
				}
			}
		}
		for ti, t := range c.tools {
			m := median(rs[ti])
			line := fmt.Sprintf("| %s | %s | %s | %.1f MiB | %.1f MiB | %s |", c.name, t.name,
				m.wall.Round(time.Millisecond), float64(m.rss)/1024, float64(m.anon)/1024, c.note)
			fmt.Println(line)
			table = append(table, line)
		}
	}
	if rcloneBin == "" {
		fmt.Println("\n(rclone not found: install Debian's rclone package to compare)")
	}
	if *out != "" {
		f, err := os.Create(*out)
		check(err)
		w := bufio.NewWriter(f)
		fmt.Fprintf(w, "| case | tool | wall (median of %d) | peak RSS | peak anon | note |\n|---|---|---|---|---|---|\n", *runs)
		for _, l := range table {
			fmt.Fprintln(w, l)
		}
		check(w.Flush())
		check(f.Close())
	}
}

// localCases copy between folders on this machine.
func localCases() []bcase {
	src := filepath.Join(scratch, "local-src")
	dst := func(tool string, i int) string {
		return filepath.Join(scratch, fmt.Sprintf("local-dst-%s-%d", tool, i))
	}
	state := filepath.Join(scratch, "local.db")
	gen := func(populate func(src string)) func() {
		return func() {
			check(os.RemoveAll(src))
			check(os.MkdirAll(src, 0o755))
			populate(src)
		}
	}
	tools := func(rerun bool) []tool {
		var ts []tool
		if !rerun {
			ts = append(ts, tool{name: "cp -r",
				prepare: func(i int) []string { return []string{"cp", "-r", src, dst("cp", i)} },
				cleanup: func(i int) { os.RemoveAll(dst("cp", i)) }})
		}
		ts = append(ts, tool{name: "syncer",
			prepare: func(i int) []string {
				removeState(state)
				args := syncerApply(writeConfig(fmt.Sprintf(`state { path = %q }
backend "local" "src" { path = %q }
backend "local" "dst" { path = %q }
sync "bench" {
  from = backend.local.src
  to   = backend.local.dst
}
`, state, src, dst("syncer", i))))
				if rerun {
					run(args) // the first run fills the destination
				}
				return args
			},
			cleanup: func(i int) { os.RemoveAll(dst("syncer", i)) }})
		if rcloneBin != "" {
			ts = append(ts, tool{name: "rclone",
				prepare: func(i int) []string {
					args := []string{rcloneBin, "--config", "/dev/null", "sync", "--transfers", "2", src, dst("rclone", i)}
					if rerun {
						run(args)
					}
					return args
				},
				cleanup: func(i int) { os.RemoveAll(dst("rclone", i)) }})
		}
		return ts
	}
	return []bcase{
		{name: "1 GiB file", gen: gen(func(src string) { writeFile(filepath.Join(src, "big.bin"), 1<<30, 1) }), tools: tools(false)},
		{name: "10,000 files of 4 KiB", gen: gen(func(src string) {
			for i := range 10000 {
				writeFile(filepath.Join(src, fmt.Sprintf("d%02d/f%05d.bin", i%100, i)), 4096, uint64(i))
			}
		}), tools: tools(false)},
		{name: "no-change re-run, 100,000 files in one folder", note: "second run, nothing to copy",
			gen: gen(func(src string) {
				for i := range 100000 {
					writeFile(filepath.Join(src, fmt.Sprintf("f%06d.txt", i)), 64, uint64(i))
				}
			}), tools: tools(true)},
	}
}

// startS3 starts the local S3 servers and reads their settings; it returns
// nil (and says why) when it cannot.
func startS3() func() {
	if rcloneBin == "" {
		fmt.Fprintln(os.Stderr, "bench: skipping S3 cases: rclone is not installed")
		return nil
	}
	if err := exec.Command("scripts/s3-server.sh", "path").Run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench: skipping S3 cases: versitygw is not installed (scripts/s3-server.sh install)")
		return nil
	}
	dir := filepath.Join(scratch, "s3")
	cmd := exec.Command("scripts/s3-server.sh", "start", dir)
	cmd.Stderr = os.Stderr
	if out, err := cmd.Output(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: skipping S3 cases: %v\n%s", err, out)
		return nil
	}
	b, err := os.ReadFile(filepath.Join(dir, "env"))
	check(err)
	s3env = map[string]string{"DIR": dir}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(strings.TrimPrefix(l, "export "), "="); ok {
			s3env[k] = v
		}
	}
	return func() { exec.Command("scripts/s3-server.sh", "stop", dir).Run() }
}

// s3Cases run against server A (plain HTTP) with rclone, at 2 transfers each.
func s3Cases() []bcase {
	src := filepath.Join(scratch, "s3-src")
	state := filepath.Join(scratch, "s3.db")
	remote := "A:"
	s3block := func(name, bucket string) string {
		return fmt.Sprintf(`backend "s3" %q {
  bucket            = %q
  endpoint          = %q
  force_path_style  = true
  access_key_id     = env("SYNCER_S3_KEY")
  secret_access_key = env("SYNCER_S3_SECRET")
}
`, name, bucket, s3env["SYNCER_S3_ENDPOINT"])
	}
	bucket := func(tool string, i int) string { return fmt.Sprintf("bench-%s-%d", tool, i) }
	genLocal := func(populate func(src string)) func() {
		return func() {
			check(os.RemoveAll(src))
			check(os.MkdirAll(src, 0o755))
			populate(src)
		}
	}
	upload := func(rerun bool, rcloneFlags ...string) []tool {
		return []tool{
			{name: "syncer", prepare: func(i int) []string {
				removeState(state)
				mkBucket(bucket("syncer", i))
				args := syncerApply(writeConfig(fmt.Sprintf("state { path = %q }\n", state) +
					fmt.Sprintf("backend \"local\" \"src\" { path = %q }\n", src) + s3block("dst", bucket("syncer", i)) +
					"sync \"bench\" {\n  from = backend.local.src\n  to = backend.s3.dst\n}\n"))
				if rerun {
					run(args)
				}
				return args
			}, cleanup: func(i int) { rmBucket(bucket("syncer", i)) }},
			{name: "rclone", prepare: func(i int) []string {
				mkBucket(bucket("rclone", i))
				args := append([]string{rcloneBin, "--config", "/dev/null", "sync", "--transfers", "2",
					"--expect-continue-timeout", "0"}, rcloneFlags...)
				args = append(args, src, remote+bucket("rclone", i))
				if rerun {
					run(args)
				}
				return args
			}, cleanup: func(i int) { rmBucket(bucket("rclone", i)) }},
		}
	}
	copyBucket := "bench-copy-src"
	return []bcase{
		{name: "S3: 1 GiB upload", note: "local file to versitygw, multipart",
			gen: genLocal(func(src string) { writeFile(filepath.Join(src, "big.bin"), 1<<30, 2) }), tools: upload(false)},
		{name: "S3: 10,000 objects of 4 KiB", note: "local files to versitygw",
			gen: genLocal(func(src string) {
				for i := range 10000 {
					writeFile(filepath.Join(src, fmt.Sprintf("d%02d/f%05d.bin", i%100, i)), 4096, uint64(i))
				}
			}), tools: upload(false)},
		{name: "S3: S3 -> S3 copy of 1 GiB", note: "same server and keys: server-side for both",
			gen: func() {
				check(os.RemoveAll(src))
				check(os.MkdirAll(src, 0o755))
				writeFile(filepath.Join(src, "big.bin"), 1<<30, 3)
				mkBucket(copyBucket)
				run([]string{rcloneBin, "--config", "/dev/null", "copy", "--expect-continue-timeout", "0", src, remote + copyBucket})
				check(os.RemoveAll(src))
			},
			tools: []tool{
				{name: "syncer", prepare: func(i int) []string {
					removeState(state)
					mkBucket(bucket("syncer", i))
					return syncerApply(writeConfig(fmt.Sprintf("state { path = %q }\n", state) +
						s3block("src", copyBucket) + s3block("dst", bucket("syncer", i)) +
						"sync \"bench\" {\n  from = backend.s3.src\n  to = backend.s3.dst\n}\n"))
				}, cleanup: func(i int) { rmBucket(bucket("syncer", i)) }},
				{name: "rclone", prepare: func(i int) []string {
					mkBucket(bucket("rclone", i))
					return []string{rcloneBin, "--config", "/dev/null", "sync", "--transfers", "2",
						remote + copyBucket, remote + bucket("rclone", i)}
				}, cleanup: func(i int) { rmBucket(bucket("rclone", i)) }},
			}},
		{name: "S3: no-change re-run over 100,000 keys", note: "second run, nothing to copy; rclone with --checksum --fast-list (no HEAD per object)",
			runs: 1,
			gen: genLocal(func(src string) {
				for i := range 100000 {
					writeFile(filepath.Join(src, fmt.Sprintf("f%06d.txt", i)), 64, uint64(i))
				}
			}), tools: upload(true, "--checksum", "--fast-list")},
	}
}

// rcloneEnv configures remote A: (server A) by environment. rclone 1.60
// fails with AWS_CA_BUNDLE set, which this machine exports.
func rcloneEnv() []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "AWS_CA_BUNDLE=") {
			env = append(env, e)
		}
	}
	return append(env,
		"RCLONE_CONFIG_A_TYPE=s3", "RCLONE_CONFIG_A_PROVIDER=Other", "RCLONE_CONFIG_A_REGION=us-east-1",
		"RCLONE_CONFIG_A_ENDPOINT="+s3env["SYNCER_S3_ENDPOINT"],
		"RCLONE_CONFIG_A_ACCESS_KEY_ID="+s3env["SYNCER_S3_KEY"],
		"RCLONE_CONFIG_A_SECRET_ACCESS_KEY="+s3env["SYNCER_S3_SECRET"],
		"RCLONE_CONFIG_P_TYPE=s3", "RCLONE_CONFIG_P_PROVIDER=Other", "RCLONE_CONFIG_P_REGION=us-east-1",
		"RCLONE_CONFIG_P_ENDPOINT="+proxyURL, // the latency proxy (shards.go), once started
		"RCLONE_CONFIG_P_ACCESS_KEY_ID="+s3env["SYNCER_S3_KEY"],
		"RCLONE_CONFIG_P_SECRET_ACCESS_KEY="+s3env["SYNCER_S3_SECRET"],
		"SYNCER_S3_KEY="+s3env["SYNCER_S3_KEY"], "SYNCER_S3_SECRET="+s3env["SYNCER_S3_SECRET"],
		"SYNCER_LOG=warn")
}

func mkBucket(name string) {
	run([]string{rcloneBin, "--config", "/dev/null", "mkdir", "A:" + name})
}

// rmBucket drops a bucket from server A's posix store directly: deleting
// 100,000 objects through the API would take longer than the benchmark.
func rmBucket(name string) { os.RemoveAll(filepath.Join(s3env["DIR"], "a", "data", name)) }

func removeState(path string) {
	for _, s := range []string{"", "-wal", "-shm", ".lock"} {
		os.Remove(path + s)
	}
}

func syncerApply(cfg string) []string {
	return []string{syncerBin, "apply", "-auto-approve", "-config", cfg}
}

func writeConfig(body string) string {
	cfg := filepath.Join(scratch, "bench.hcl")
	check(os.WriteFile(cfg, []byte(body), 0o644))
	return cfg
}

// run runs args untimed and stops the benchmark if it fails.
func run(args []string) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = rcloneEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %s: %v\n%s", strings.Join(args, " "), err, out)
		os.Exit(1)
	}
}

// measure runs args and returns its wall time and peak RSS. The RSS comes
// from GNU time, which fork()s: a child that Go starts with vfork reports
// Go's own RSS as its peak.
func measure(args []string) result {
	rssFile, err := os.CreateTemp("", "bench-rss-*")
	check(err)
	rssFile.Close()
	defer os.Remove(rssFile.Name())
	if coldStart {
		evict(args[0])
	}
	args = append([]string{"/usr/bin/time", "-q", "-f", "%M", "-o", rssFile.Name()}, args...)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout = io.Discard
	cmd.Env = rcloneEnv()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	err = cmd.Start()
	check(err)
	anon := make(chan int64, 1)
	go func() { anon <- sampleAnon(cmd.Process.Pid) }()
	err = cmd.Wait()
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
	return result{wall: wall, rss: kib, anon: <-anon}
}

// sampleAnon returns the largest RssAnon (KiB) seen in the program that
// GNU time (pid) runs, read from /proc every 5 ms until it exits. Anonymous
// memory is what the program allocates (heap, stacks, buffers), as opposed
// to the pages of its own binary, which peak RSS includes.
func sampleAnon(pid int) int64 {
	children := fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)
	var status string
	var peak int64
	for {
		if status == "" {
			b, err := os.ReadFile(children)
			if err != nil {
				return peak // time has exited
			}
			if f := strings.Fields(string(b)); len(f) > 0 {
				status = "/proc/" + f[0] + "/status"
			}
		} else {
			b, err := os.ReadFile(status)
			if err != nil {
				return peak
			}
			for line := range strings.Lines(string(b)) {
				if rest, ok := strings.CutPrefix(line, "RssAnon:"); ok {
					var kib int64
					fmt.Sscan(rest, &kib)
					peak = max(peak, kib)
				}
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// evict drops a program's file from the page cache, so that it starts as a
// freshly deployed binary does. Peak RSS counts the binary's mapped pages,
// and Linux 6.x maps a cached large folio whole on a fault: a binary the
// linker has just written sits in the cache in folios of up to 2 MiB and
// shows ~10 MiB more RSS than the same binary read back from disk.
func evict(prog string) {
	path, err := exec.LookPath(prog)
	check(err)
	f, err := os.Open(path)
	check(err)
	defer f.Close()
	check(unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED))
}

func median(rs []result) result {
	sort.Slice(rs, func(i, j int) bool { return rs[i].wall < rs[j].wall })
	m := rs[len(rs)/2]
	for _, r := range rs { // report the worst memory seen
		m.rss = max(m.rss, r.rss)
		m.anon = max(m.anon, r.anon)
	}
	return m
}

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
		_, err = f.Write(buf[:n])
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
