package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestMemoryLimit(t *testing.T) {
	write := func(t *testing.T, path, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	v2 := t.TempDir() // cgroup v2, the process in /pod
	write(t, filepath.Join(v2, "self"), "0::/pod\n")
	write(t, filepath.Join(v2, "root", "pod", "memory.max"), "1000000000\n")
	write(t, filepath.Join(v2, "root", "memory.max"), "max\n")
	v1 := t.TempDir() // cgroup v1, the process in /job
	write(t, filepath.Join(v1, "self"), "4:memory:/job\n0::/\n")
	write(t, filepath.Join(v1, "root", "memory", "job", "memory.limit_in_bytes"), "2000000000\n")
	none := t.TempDir() // v1's "no limit"
	write(t, filepath.Join(none, "self"), "4:memory:/\n")
	write(t, filepath.Join(none, "root", "memory", "memory.limit_in_bytes"), "9223372036854771712\n")

	for _, c := range []struct {
		name       string
		configured int64
		gomemlimit string
		dir        string
		want       int64
		source     string
	}{
		{"limits.memory wins", 512 << 20, "1GiB", v2, 512 << 20, "limits.memory"},
		{"GOMEMLIMIT is left alone", 0, "1GiB", v2, 0, "GOMEMLIMIT"},
		{"90% of cgroup v2", 0, "", v2, 900000000, "90% of the cgroup memory limit"},
		{"90% of cgroup v1", 0, "", v1, 1800000000, "90% of the cgroup memory limit"},
		{"no limit anywhere", 0, "", none, 0, ""},
		{"no cgroup files", 0, "", t.TempDir(), 0, ""},
	} {
		got, source := memoryLimit(c.configured, c.gomemlimit, filepath.Join(c.dir, "root"), filepath.Join(c.dir, "self"))
		if got != c.want || source != c.source {
			t.Errorf("%s: %d from %q; want %d from %q", c.name, got, source, c.want, c.source)
		}
	}
}

func TestSameStopRequest(t *testing.T) {
	for _, c := range []struct {
		first, second os.Signal
		gap           time.Duration
		want          bool
	}{
		{syscall.SIGTERM, syscall.SIGTERM, 10 * time.Millisecond, true},
		{syscall.SIGTERM, syscall.SIGTERM, 2 * time.Second, false},
		{os.Interrupt, os.Interrupt, 10 * time.Millisecond, false},
		{syscall.SIGTERM, os.Interrupt, 10 * time.Millisecond, false},
		{os.Interrupt, syscall.SIGTERM, 10 * time.Millisecond, false},
	} {
		if got := sameStopRequest(c.first, c.second, c.gap); got != c.want {
			t.Errorf("%v then %v after %s: %v, want %v", c.first, c.second, c.gap, got, c.want)
		}
	}
}
