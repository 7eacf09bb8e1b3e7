package state_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"syncer/state"
)

// bigState writes a state holding n records and returns its path.
func bigState(b *testing.B, n int) string {
	b.Helper()
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "syncer.db")
	st, err := state.Open(ctx, path, true)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	for start := 0; start < n; start += 10_000 {
		var cs []state.Change
		for i := start; i < min(start+10_000, n); i++ {
			cs = append(cs, state.Change{Record: rec("photos", fmt.Sprintf("camera/%04d/%02d/IMG_%06d.jpg", 2000+i%25, i%12+1, i), int64(i))})
		}
		if err := st.Apply(ctx, cs); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := st.DB().Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkOpenCheck measures what Open costs on a state of 100,000
// records, and what a corruption check there would add to it: SQLite's
// quick_check reads every page, so it grows with the state.
func BenchmarkOpenCheck(b *testing.B) {
	path := bigState(b, 100_000)
	if fi, err := os.Stat(path); err == nil {
		b.Logf("state of 100,000 records: %d bytes", fi.Size())
	}
	ctx := context.Background()
	b.Run("Open", func(b *testing.B) {
		for b.Loop() {
			st, err := state.Open(ctx, path, false)
			if err != nil {
				b.Fatal(err)
			}
			st.Close()
		}
	})
	st, err := state.Open(ctx, path, false)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	for _, q := range []string{"PRAGMA quick_check", "PRAGMA quick_check(1)", "PRAGMA integrity_check(1)"} {
		b.Run(q, func(b *testing.B) {
			for b.Loop() {
				var res string
				if err := st.DB().QueryRowContext(ctx, q).Scan(&res); err != nil || res != "ok" {
					b.Fatalf("%s = %q, %v", q, res, err)
				}
			}
		})
	}
}

// BenchmarkApply measures recording finished copies in the recorder's
// batches of 1,000 (ns/op is per record).
func BenchmarkApply(b *testing.B) {
	ctx := context.Background()
	st, err := state.Open(ctx, filepath.Join(b.TempDir(), "syncer.db"), true)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	batch := make([]state.Change, 0, 1000)
	for i := 0; b.Loop(); i++ {
		batch = append(batch, state.Change{Record: rec("photos", fmt.Sprintf("d%04d/f%06d", i/1000, i), int64(i))})
		if len(batch) == cap(batch) {
			if err := st.Apply(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}
