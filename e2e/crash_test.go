package e2e

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// throttle makes an apply of the crash trees take tens of seconds, so that
// a kill or a signal lands mid-run without any timing assumption: the tests
// wait for progress in the state, then act.
const throttle = "2MiB/s"

// waitGuard bounds every wait for progress (a safety net only).
const waitGuard = 2 * time.Minute

// TestKillDashNineThenResume kills a throttled apply with SIGKILL once a few
// hundred objects are recorded, then checks that a second apply finishes the
// job without recopying anything the first one finished.
func TestKillDashNineThenResume(t *testing.T) {
	l := newLayout(t)
	const total = 3000
	srcBytes := genTree(t, l.Src, "crash", total, 4<<10, 64<<10)
	t.Logf("source: %d files, %.1f MiB", total, float64(srcBytes)/(1<<20))

	cfg := l.config()
	cfg.Bandwidth = throttle
	cfg.write(t, l.Config)

	p := startSyncer(t, l.Base, syncerEnv("SYNCER_LOG=info"), "apply", "-auto-approve", "-config", l.Config)
	const want = 300
	p.waitUntil(t, "300 objects recorded in the state", waitGuard, func() bool {
		n, err := stateCount(l.State, `SELECT count(*) FROM objects`)
		return err == nil && n >= want
	})
	// The recorder commits about every half second: try to kill while some
	// finished files are not recorded yet, so that the resume has to adopt
	// them rather than copy them again. If no such moment comes within a
	// few seconds (a recorder that commits at once), kill anyway.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !p.exited(); time.Sleep(10 * time.Millisecond) {
		n, err := stateCount(l.State, `SELECT count(*) FROM objects`)
		if err == nil && countFiles(l.Dst) >= n+10 {
			break
		}
	}
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill: %v", err)
	}
	first := p.wait(t, time.Minute)
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("first apply was not killed by SIGKILL (it finished first?): %s\n%s", p.cmd.ProcessState, first)
	}

	// What the kill left behind.
	snap := snapshotDst(t, l.Dst)
	recorded := recordedKeys(t, l.State, syncName)
	pending := mustStateCount(t, l.State, `SELECT count(*) FROM pending`)
	t.Logf("after kill -9 (%.1fs): %d files in dst, %d objects recorded, %d pending, %d temporary files",
		first.Elapsed.Seconds(), len(snap.Files), len(recorded), pending, len(snap.Temps))
	if len(recorded) < want {
		t.Errorf("state records %d objects after the kill; it had at least %d before", len(recorded), want)
	}
	if len(snap.Files) >= total {
		t.Fatalf("all %d files were copied before the kill; the kill did not land mid-run", total)
	}
	// A recorded object must be at the destination, whole.
	var missing []string
	for k := range recorded {
		id, ok := snap.Files[k]
		if !ok {
			missing = append(missing, k)
			continue
		}
		if fi, err := os.Stat(filepath.Join(l.Src, filepath.FromSlash(k))); err != nil || fi.Size() != id.Size {
			t.Errorf("recorded %s is %d bytes at the destination; source: %v", k, id.Size, fi)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		t.Errorf("%d keys recorded in the state are not at the destination, e.g. %q", len(missing), missing[:min(5, len(missing))])
	}

	// show knows the killed apply is not running any more.
	if res := runSyncer(t, l.Base, syncerEnv(), "show", "-config", l.Config); res.Code != 0 ||
		!strings.Contains(res.Stdout, "did not finish (its process is gone); run apply again to resume") {
		t.Errorf("show after kill -9: want exit 0 and the apply reported as gone\n%s", res)
	}

	// Resume without the throttle. Limits are not part of the config hash,
	// and apply re-plans anyway.
	cfg.Bandwidth = ""
	cfg.write(t, l.Config)
	second := runSyncer(t, l.Base, syncerEnv(), "apply", "-auto-approve", "-config", l.Config)
	if second.Code != 0 {
		t.Fatalf("second apply: want exit 0\n%s", second)
	}
	sum, line := parseApplyComplete(t, second)
	t.Logf("second apply (%.1fs): %s", second.Elapsed.Seconds(), line)

	notRecorded := total - len(recorded)
	notPresent := total - len(snap.Files)
	if sum.Created > notRecorded {
		t.Errorf("second apply created %d objects; at most %d (total %d - %d recorded after the kill) were left to do",
			sum.Created, notRecorded, total, len(recorded))
	}
	if sum.Created+sum.Updated > notRecorded {
		t.Errorf("second apply copied %d objects (%d created, %d updated); only %d were not recorded after the kill",
			sum.Created+sum.Updated, sum.Created, sum.Updated, notRecorded)
	}
	// Files that were whole at the destination but not yet recorded were
	// marked pending, so the plan adopts them instead of copying them again.
	if sum.Created+sum.Updated > notPresent {
		t.Errorf("second apply copied %d objects; only %d were not at the destination after the kill (%d were there but unrecorded; they should have been adopted)",
			sum.Created+sum.Updated, notPresent, len(snap.Files)-len(recorded))
	}
	if sum.Deleted != 0 {
		t.Errorf("second apply deleted %d objects; want 0", sum.Deleted)
	}

	n := assertTreesEqual(t, l.Src, l.Dst)
	if n != total {
		t.Errorf("compared %d source files; want %d", n, total)
	}

	// Nothing that was finished at the kill was written again: a rewrite
	// goes through a temporary file and a rename, which changes the inode.
	var recopiedRecorded, recopiedUnrecorded []string
	for k, before := range snap.Files {
		after, err := statID(filepath.Join(l.Dst, filepath.FromSlash(k)))
		if err != nil {
			t.Errorf("%s: %v", k, err)
			continue
		}
		if after.Ino == before.Ino && after.MTime.Equal(before.MTime) {
			continue
		}
		if recorded[k] {
			recopiedRecorded = append(recopiedRecorded, k)
		} else {
			recopiedUnrecorded = append(recopiedUnrecorded, k)
		}
	}
	if len(recopiedRecorded) > 0 {
		sort.Strings(recopiedRecorded)
		t.Errorf("%d of the %d objects recorded after the kill were copied again (inode or mtime changed), e.g. %q",
			len(recopiedRecorded), len(recorded), recopiedRecorded[:min(5, len(recopiedRecorded))])
	}
	if len(recopiedUnrecorded) > 0 {
		sort.Strings(recopiedUnrecorded)
		t.Errorf("%d of the %d files that were whole at the destination but not yet recorded were copied again instead of adopted, e.g. %q",
			len(recopiedUnrecorded), len(snap.Files)-len(recorded), recopiedUnrecorded[:min(5, len(recopiedUnrecorded))])
	}

	if n := mustStateCount(t, l.State, `SELECT count(*) FROM objects`); n != total {
		t.Errorf("state records %d objects after the resumed apply; want %d", n, total)
	}
	if n := mustStateCount(t, l.State, `SELECT count(*) FROM pending`); n != 0 {
		t.Errorf("state has %d pending keys after a complete apply; want 0", n)
	}

	third := runSyncer(t, l.Base, syncerEnv(), "plan", "-detailed-exitcode", "-config", l.Config)
	if third.Code != 0 {
		t.Errorf("plan -detailed-exitcode after the resumed apply: want exit 0 (no changes)\n%s", third)
	}
}

// TestSIGTERMThenResume stops a throttled apply with one SIGTERM: it must
// finish what is in flight, record it, exit 130 with a line saying how to
// resume; a second apply then finishes the job.
func TestSIGTERMThenResume(t *testing.T) {
	l := newLayout(t)
	const total = 1500
	genTree(t, l.Src, "sigterm", total, 4<<10, 64<<10)
	cfg := l.config()
	cfg.Bandwidth = throttle
	cfg.write(t, l.Config)

	p := startSyncer(t, l.Base, syncerEnv(), "apply", "-auto-approve", "-config", l.Config)
	p.waitUntil(t, "100 objects recorded in the state", waitGuard, func() bool {
		n, err := stateCount(l.State, `SELECT count(*) FROM objects`)
		return err == nil && n >= 100
	})
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	first := p.wait(t, waitGuard)
	t.Logf("apply stopped by SIGTERM after %.1fs, exit %d", first.Elapsed.Seconds(), first.Code)
	if first.Code != 130 {
		t.Fatalf("apply after SIGTERM: want exit 130\n%s", first)
	}
	if !strings.Contains(first.Stdout, "Run syncer apply again to resume") {
		t.Errorf("stdout does not tell the user to run apply again to resume\n%s", first)
	}

	// A graceful stop records everything it finished and leaves no
	// temporary file behind.
	snap := snapshotDst(t, l.Dst)
	recorded := recordedKeys(t, l.State, syncName)
	t.Logf("after SIGTERM: %d files in dst, %d recorded, %d temporary files", len(snap.Files), len(recorded), len(snap.Temps))
	if len(snap.Files) >= total {
		t.Fatalf("all %d files were copied before the signal took effect; the signal did not land mid-run", total)
	}
	if len(snap.Temps) > 0 {
		t.Errorf("a graceful stop left temporary files in dst: %q", snap.Temps)
	}
	var unrecorded, missing []string
	for k := range snap.Files {
		if !recorded[k] {
			unrecorded = append(unrecorded, k)
		}
	}
	for k := range recorded {
		if _, ok := snap.Files[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(unrecorded) > 0 {
		sort.Strings(unrecorded)
		t.Errorf("%d files finished before the graceful stop are not recorded in the state, e.g. %q", len(unrecorded), unrecorded[:min(5, len(unrecorded))])
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		t.Errorf("%d recorded keys are not at the destination, e.g. %q", len(missing), missing[:min(5, len(missing))])
	}

	cfg.Bandwidth = ""
	cfg.write(t, l.Config)
	second := runSyncer(t, l.Base, syncerEnv(), "apply", "-auto-approve", "-config", l.Config)
	if second.Code != 0 {
		t.Fatalf("second apply: want exit 0\n%s", second)
	}
	sum, line := parseApplyComplete(t, second)
	t.Logf("second apply (%.1fs): %s", second.Elapsed.Seconds(), line)
	if got, want := sum.Created+sum.Updated, total-len(snap.Files); got != want {
		t.Errorf("second apply copied %d objects; want the %d not copied before the stop", got, want)
	}
	assertTreesEqual(t, l.Src, l.Dst)
	for k, before := range snap.Files {
		after, err := statID(filepath.Join(l.Dst, filepath.FromSlash(k)))
		if err != nil || after.Ino != before.Ino {
			t.Errorf("%s, finished before the stop, was written again by the second apply", k)
		}
	}
	third := runSyncer(t, l.Base, syncerEnv(), "plan", "-detailed-exitcode", "-config", l.Config)
	if third.Code != 0 {
		t.Errorf("plan -detailed-exitcode after the resumed apply: want exit 0\n%s", third)
	}
}

// TestSecondSignalAborts sends SIGTERM twice while large objects are in
// flight: the run aborts (exit 130), no partial object is visible at any
// key, and a second apply completes the job.
func TestSecondSignalAborts(t *testing.T) {
	l := newLayout(t)
	const total = 8
	genTree(t, l.Src, "abort", total, 4<<20, 4<<20) // 32 MiB: 16 s at the throttle
	cfg := l.config()
	cfg.Bandwidth = throttle
	cfg.Workers = 2
	cfg.write(t, l.Config)

	p := startSyncer(t, l.Base, syncerEnv(), "apply", "-auto-approve", "-config", l.Config)
	p.waitUntil(t, "a transfer in flight", waitGuard, func() bool { return p.writing(l.Dst) > 0 })
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	p.waitUntil(t, "the first signal to be acknowledged on stderr", waitGuard, func() bool {
		return strings.Contains(p.stderr.String(), "received")
	})
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("second SIGTERM: %v", err)
	}
	first := p.wait(t, waitGuard)
	t.Logf("apply aborted by a second SIGTERM after %s, exit %d", first.Elapsed.Round(time.Millisecond), first.Code)
	if first.Code != 130 {
		t.Errorf("apply after two SIGTERMs: want exit 130\n%s", first)
	}
	snap := snapshotDst(t, l.Dst)
	recorded := recordedKeys(t, l.State, syncName)
	t.Logf("after abort: %d files in dst, %d recorded, %d temporary files", len(snap.Files), len(recorded), len(snap.Temps))
	if len(snap.Files) >= total {
		t.Fatalf("all files were copied before the abort; it did not land mid-run")
	}
	// Whatever is visible at a key is whole.
	buf := make([]byte, 256<<10)
	for k := range snap.Files {
		sh, _, err := hashFile(filepath.Join(l.Src, filepath.FromSlash(k)), buf)
		if err != nil {
			t.Fatal(err)
		}
		dh, _, err := hashFile(filepath.Join(l.Dst, filepath.FromSlash(k)), buf)
		if err != nil {
			t.Fatal(err)
		}
		if sh != dh {
			t.Errorf("after the abort, %s at the destination differs from the source (partial object visible)", k)
		}
	}
	for k := range recorded {
		if _, ok := snap.Files[k]; !ok {
			t.Errorf("recorded key %s is not at the destination", k)
		}
	}

	cfg.Bandwidth = ""
	cfg.write(t, l.Config)
	second := runSyncer(t, l.Base, syncerEnv(), "apply", "-auto-approve", "-config", l.Config)
	if second.Code != 0 {
		t.Fatalf("second apply: want exit 0\n%s", second)
	}
	_, line := parseApplyComplete(t, second)
	t.Logf("second apply: %s", line)
	assertTreesEqual(t, l.Src, l.Dst)
	if third := runSyncer(t, l.Base, syncerEnv(), "plan", "-detailed-exitcode", "-config", l.Config); third.Code != 0 {
		t.Errorf("plan -detailed-exitcode after the resumed apply: want exit 0\n%s", third)
	}
}

// TestLimitsNotInConfigHash saves a plan under one limits block and applies
// it under another: limits do not decide actions, so the plan is not stale.
func TestLimitsNotInConfigHash(t *testing.T) {
	l := newLayout(t)
	genTree(t, l.Src, "hash", 20, 0, 4<<10)
	cfg := l.config()
	cfg.Bandwidth = throttle
	cfg.Workers = 1
	cfg.write(t, l.Config)
	planFile := filepath.Join(l.Base, "resume.plan")
	if res := runSyncer(t, l.Base, syncerEnv(), "plan", "-out", planFile, "-config", l.Config); res.Code != 0 {
		t.Fatalf("plan -out: want exit 0\n%s", res)
	}
	cfg.Bandwidth, cfg.Workers = "", 0
	cfg.write(t, l.Config)
	res := runSyncer(t, l.Base, syncerEnv(), "apply", "-config", l.Config, planFile)
	if res.Code != 0 {
		t.Fatalf("apply of a plan saved under other limits: want exit 0 (limits are not in the config hash)\n%s", res)
	}
	assertTreesEqual(t, l.Src, l.Dst)
}

// One SIGTERM with a short -grace: the transfers in flight, too slow to
// finish in time, are aborted when the grace ends; the run exits 130 with
// whole objects only, and the next apply finishes.
func TestGraceEndsInFlightTransfers(t *testing.T) {
	l := newLayout(t)
	const total = 4
	genTree(t, l.Src, "grace", total, 4<<20, 4<<20) // 16 MiB: 8 s at the throttle
	cfg := l.config()
	cfg.Bandwidth = throttle
	cfg.Workers = 2
	cfg.write(t, l.Config)

	p := startSyncer(t, l.Base, syncerEnv(), "apply", "-auto-approve", "-grace", "300ms", "-config", l.Config)
	p.waitUntil(t, "a transfer in flight", waitGuard, func() bool { return p.writing(l.Dst) > 0 })
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	first := p.wait(t, waitGuard)
	if first.Code != 130 {
		t.Fatalf("apply after one SIGTERM and a short grace: want exit 130\n%s", first)
	}
	if !strings.Contains(first.Stdout, "apply again to resume") {
		t.Errorf("stdout does not say the run can be resumed:\n%s", first)
	}
	snap := snapshotDst(t, l.Dst)
	if len(snap.Files) >= total {
		t.Fatalf("all files were copied before the grace ended; it did not land mid-transfer")
	}
	cfg.Bandwidth = ""
	cfg.write(t, l.Config)
	if second := runSyncer(t, l.Base, syncerEnv(), "apply", "-auto-approve", "-config", l.Config); second.Code != 0 {
		t.Fatalf("second apply: want exit 0\n%s", second)
	}
	assertTreesEqual(t, l.Src, l.Dst)
}
