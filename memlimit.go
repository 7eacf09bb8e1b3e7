package main

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syncer/views/display"
)

// Where the process's cgroup and its files are read.
const (
	cgroupRoot = "/sys/fs/cgroup"
	selfCgroup = "/proc/self/cgroup"
)

// setMemoryLimit sets the Go memory limit: limits.memory when set (bytes);
// else GOMEMLIMIT, which the runtime already applied, is left alone; else
// 90% of the container's cgroup memory limit, when there is one. It logs
// its choice.
func (c *cli) setMemoryLimit(configured int64) {
	switch limit, source := memoryLimit(configured, os.Getenv("GOMEMLIMIT"), cgroupRoot, selfCgroup); {
	case limit > 0 && configured > 0:
		debug.SetMemoryLimit(limit)
	case limit > 0:
		debug.SetMemoryLimit(limit)
		c.log.Info("memory limit set from the container's", "limit", display.Bytes(limit), "from", source)
	case source != "":
		c.log.Debug("memory limit left as set", "from", source)
	}
}

// memoryLimit decides the Go memory limit; 0 means not to set one.
func memoryLimit(configured int64, gomemlimit, root, self string) (limit int64, source string) {
	switch {
	case configured > 0:
		return configured, "limits.memory"
	case gomemlimit != "":
		return 0, "GOMEMLIMIT"
	}
	if n := cgroupMemory(root, self); n > 0 {
		return n / 10 * 9, "90% of the cgroup memory limit"
	}
	return 0, ""
}

// cgroupMemory returns the process's cgroup memory limit in bytes, 0
// when there is none: cgroup v2's memory.max or v1's
// memory.limit_in_bytes, in the process's own cgroup (as /proc/self/cgroup
// names it, below root) or else at root.
func cgroupMemory(root, self string) int64 {
	var files []string
	if b, err := os.ReadFile(self); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			parts := strings.SplitN(line, ":", 3)
			switch {
			case len(parts) < 3:
			case parts[0] == "0" && parts[1] == "":
				files = append(files, filepath.Join(root, parts[2], "memory.max"))
			case slices.Contains(strings.Split(parts[1], ","), "memory"):
				files = append(files, filepath.Join(root, "memory", parts[2], "memory.limit_in_bytes"))
			}
		}
	}
	files = append(files, filepath.Join(root, "memory.max"), filepath.Join(root, "memory", "memory.limit_in_bytes"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		// "max", or v1's "no limit" (a page-rounded MaxInt64).
		if err != nil || n <= 0 || n >= 1<<62 {
			return 0
		}
		return n
	}
	return 0
}
