package apply

import (
	"fmt"

	"syncer/config"
	"syncer/plan"
	"syncer/views/display"
)

// Pattern is the shape of the planned work, read from its size distribution.
type Pattern string

const (
	ManySmall  Pattern = "many-small"  // most objects under 1 MiB
	LargeFiles Pattern = "large-files" // most bytes in objects of 64 MiB or more
	Mixed      Pattern = "mixed"
	Unknown    Pattern = "unknown" // nothing to copy, or sizes mostly unknown
)

// Bounds are the worker counts allowed for a pattern.
type Bounds struct{ Min, Max, Default int }

// DefaultTable caps every pattern at 2 workers: on a small pod, two streams
// already fill a disk or a network link, and each one holds buffers.
var DefaultTable = map[Pattern]Bounds{
	ManySmall:  {Min: 1, Max: 2, Default: 2},
	Mixed:      {Min: 1, Max: 2, Default: 2},
	LargeFiles: {Min: 1, Max: 2, Default: 2},
	Unknown:    {Min: 1, Max: 2, Default: 1},
}

// baseMemory is what syncer needs besides the workers' buffers (bytes).
const baseMemory = 32 << 20

// Classify reads the pattern from the planned copies' sizes.
func Classify(s plan.SizeStats) Pattern {
	switch {
	case s.Count == 0 || s.Unknown*2 > s.Count:
		return Unknown
	case s.Small*10 >= s.Count*8:
		return ManySmall
	case s.Bytes > 0 && s.LargeBytes*10 >= s.Bytes*8:
		return LargeFiles
	}
	return Mixed
}

// Decision is the tuner's choice.
type Decision struct {
	Workers int
	Pattern Pattern
	Reason  string
}

// Tune picks the number of workers. limits.workers fixes it; otherwise the
// pattern's default applies, within a cap of the table's maximum, which
// limits.max_workers raises only as far as limits.memory covers workers x
// perWorker bytes of buffers.
func Tune(l config.Limits, s plan.SizeStats, perWorker int64) Decision {
	p := Classify(s)
	b := DefaultTable[p]
	budget := "unset"
	if l.Memory > 0 {
		budget = compactBytes(l.Memory)
	}
	if l.Workers > 0 {
		return Decision{Workers: l.Workers, Pattern: p, Reason: fmt.Sprintf("fixed by limits.workers: pattern=%s, budget=%s", p, budget)}
	}
	limit := b.Max
	if l.MaxWorkers > 0 {
		limit = l.MaxWorkers
	}
	if limit > b.Max && l.Memory > 0 && perWorker > 0 {
		afford := int((l.Memory - baseMemory) / perWorker)
		limit = max(b.Max, min(limit, afford))
	}
	w := b.Default
	if p == ManySmall || p == Mixed {
		w = limit // small objects are latency-bound: use what is allowed
	}
	w = max(b.Min, min(w, limit))
	return Decision{Workers: w, Pattern: p, Reason: fmt.Sprintf("auto-tuned: pattern=%s, budget=%s", p, budget)}
}

// compactBytes renders n as config would spell it when exact ("1800MiB").
func compactBytes(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d%s", n/u.size, u.name)
		}
	}
	return display.Bytes(n)
}
