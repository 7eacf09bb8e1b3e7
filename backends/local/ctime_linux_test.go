package local

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// The version tag's text is recorded in states: its format must not change.
func TestVersionTagFormat(t *testing.T) {
	for _, c := range []struct {
		ino   uint64
		ctime int64
		want  string
	}{
		{0, 0, "0-0"},
		{0x98401e, 0x18edaac359fc5dc3, "98401e-18edaac359fc5dc3"},
		{math.MaxUint64, math.MinInt64, "ffffffffffffffff--8000000000000000"},
	} {
		if got := formatTag(c.ino, c.ctime); got != c.want {
			t.Errorf("formatTag(%#x, %#x) = %q, want %q", c.ino, c.ctime, got, c.want)
		}
	}
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	want := strconv.FormatUint(st.Ino, 16) + "-" + strconv.FormatInt(st.Ctim.Nano(), 16)
	if got := versionTag(fi); got != want {
		t.Errorf("versionTag = %q, want %q", got, want)
	}
}
