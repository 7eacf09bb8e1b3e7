package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"syncer/backends/s3/s3test"
)

// shardLatency is added to every request of the sharded case, to stand
// for a real region's round trip.
const shardLatency = 20 * time.Millisecond

// proxyURL is the latency proxy in front of server A, once started; remote
// P: in rcloneEnv goes through it.
var proxyURL string

// shardCases: 20,000 small objects from local files to S3 through a proxy
// that delays every request by 20 ms, with 1, 2 and 4 syncer shards as
// concurrent processes, beside rclone --transfers 2 and 8. A sharded run
// is a shell starting the shards and waiting for all: its wall time is the
// slowest shard's, its peak RSS the largest shard process's (GNU time
// reports the largest of the processes it waited for); its peak anon is
// the shell's, not a shard's.
func shardCases() []bcase {
	p, err := s3test.NewProxy(s3env["SYNCER_S3_ENDPOINT"])
	check(err)
	p.SetOnRequest(func(string, *http.Request) { time.Sleep(shardLatency) })
	proxyURL = p.URL

	src := filepath.Join(scratch, "shard-src")
	const objects = 20000
	bucket := func(tool string, i int) string { return fmt.Sprintf("bench-shard-%s-%d", tool, i) }
	state := func(i int) string { return filepath.Join(scratch, fmt.Sprintf("shard-%d.db", i)) }
	syncer := func(n int) tool {
		name := fmt.Sprintf("syncer, %d shard", n)
		if n > 1 {
			name += "s"
		}
		return tool{name: name, prepare: func(i int) []string {
			st := state(i)
			matches, _ := filepath.Glob(strings.TrimSuffix(st, ".db") + "*")
			for _, m := range matches {
				os.Remove(m)
			}
			tag := fmt.Sprintf("syncer%d", n)
			mkBucket(bucket(tag, i))
			cfg := filepath.Join(scratch, fmt.Sprintf("shard-%d.hcl", n))
			check(os.WriteFile(cfg, []byte(fmt.Sprintf(`state { path = %q }
backend "local" "src" { path = %q }
backend "s3" "dst" {
  bucket            = %q
  endpoint          = %q
  force_path_style  = true
  access_key_id     = env("SYNCER_S3_KEY")
  secret_access_key = env("SYNCER_S3_SECRET")
}
sync "bench" {
  from = backend.local.src
  to   = backend.s3.dst
}
`, st, src, bucket(tag, i), proxyURL)), 0o644))
			if coldStart {
				evict(syncerBin)
			}
			var sh strings.Builder
			for s := range n {
				shard := ""
				if n > 1 {
					shard = fmt.Sprintf(" -shard %d/%d", s, n)
				}
				fmt.Fprintf(&sh, "%q apply -auto-approve -config %q%s & p%d=$!\n", syncerBin, cfg, shard, s)
			}
			sh.WriteString("rc=0\n")
			for s := range n {
				fmt.Fprintf(&sh, "wait $p%d || rc=1\n", s)
			}
			sh.WriteString("exit $rc\n")
			return []string{"/bin/sh", "-c", sh.String()}
		}, cleanup: func(i int) { rmBucket(bucket(fmt.Sprintf("syncer%d", n), i)) }}
	}
	rclone := func(transfers int) tool {
		tag := fmt.Sprintf("rclone%d", transfers)
		return tool{name: fmt.Sprintf("rclone --transfers %d", transfers), prepare: func(i int) []string {
			mkBucket(bucket(tag, i))
			return []string{rcloneBin, "--config", "/dev/null", "sync", "--transfers", fmt.Sprint(transfers),
				"--expect-continue-timeout", "0", src, "P:" + bucket(tag, i)}
		}, cleanup: func(i int) { rmBucket(bucket(tag, i)) }}
	}
	return []bcase{{
		name: "S3 sharded: 20,000 objects of 1 KiB, +20 ms per request",
		note: "local files to versitygw through a 20 ms proxy; shards are concurrent processes",
		gen: func() {
			check(os.RemoveAll(src))
			for i := range objects {
				writeFile(filepath.Join(src, fmt.Sprintf("d%02d/f%05d.bin", i%100, i)), 1024, uint64(i))
			}
		},
		tools: []tool{syncer(1), syncer(2), syncer(4), rclone(2), rclone(8)},
	}}
}
