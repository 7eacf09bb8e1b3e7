package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A shard's remote lock is its own: while shard 0/2 runs, shard 1/2
// applies at once; show -shards names the holder of 0/2's lock; after
// kill -9, force-unlock -shard 0/2 removes that lock alone, and the shard
// resumes.
func TestRemoteShardLocks(t *testing.T) {
	r := newRemoteRig(t)
	// Slow enough that shard 0 is still copying after shard 1's whole run,
	// on a loaded machine too (about 12 s for shard 0 alone).
	r.limits = []string{`bandwidth = "256KiB/s"`, "workers = 1"}
	genTree(t, r.src, "shard-locks", 60, 64<<10, 128<<10)
	one, two := r.folder(t), r.folder(t)

	p := r.start(t, one, "apply", "-auto-approve", "-shard", "0/2")
	p.waitUntil(t, "shard 0/2 copying", waitGuard, func() bool { return countFiles(r.dst) >= 2 })

	// Shard 1 does not wait for shard 0's lock.
	res := r.run(t, two, "apply", "-auto-approve", "-shard", "1/2")
	mustCode(t, "shard 1/2 while 0/2 runs", res, 0, "Apply complete!")

	res = r.run(t, two, "show", "-shards", "2")
	mustCode(t, "show -shards 2", res, 0, "  locked: 0/2\n", "  not finished: 0/2\n",
		fmt.Sprintf("; locked by apply by pid %d", p.cmd.Process.Pid))
	res = r.run(t, two, "show", "-shards", "2", "-json")
	var sum struct {
		Locked, Unfinished []string
		PerShard           []struct {
			Shard  string
			Status string
			Lock   *struct{ ID string }
		} `json:"per_shard"`
	}
	// The last line is the shards message (after the version line).
	lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		t.Fatalf("show -shards 2 -json: %v\n%s", err, res)
	}
	if fmt.Sprint(sum.Locked) != "[0/2]" || fmt.Sprint(sum.Unfinished) != "[0/2]" || sum.PerShard[0].Status != "running" || sum.PerShard[0].Lock == nil {
		t.Fatalf("show -shards 2 -json: %+v\n%s", sum, res.Stdout)
	}
	id := sum.PerShard[0].Lock.ID

	// Another run of shard 0 is refused, and told how to unlock that shard.
	res = r.run(t, two, "plan", "-shard", "0/2")
	mustCode(t, "plan of the locked shard", res, 1, "is locked", "syncer force-unlock -shard 0/2 "+id)

	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait(t, time.Minute)
	mustCode(t, "force-unlock of shard 1's (free) lock", r.run(t, two, "force-unlock", "-shard", "1/2", id), 1)
	mustCode(t, "force-unlock -shard 0/2", r.run(t, two, "force-unlock", "-shard", "0/2", id), 0, "Removed the lock")
	if _, _, ok := r.object(t, "syncer/media.shard-0-of-2.db.lock"); ok {
		t.Error("the lock of shard 0/2 is still there")
	}
	res = r.run(t, one, "apply", "-auto-approve", "-shard", "0/2")
	mustCode(t, "shard 0/2 again", res, 0, "Apply complete!")
	assertTreesEqual(t, r.src, r.dst)
	res = r.run(t, two, "show", "-shards", "2")
	mustCode(t, "show -shards 2 at the end", res, 0, "every shard finished its last apply")
	if regexp.MustCompile(`locked`).MatchString(res.Stdout) {
		t.Errorf("a lock is left:\n%s", res.Stdout)
	}
}
