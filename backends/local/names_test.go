package local_test

import (
	"strings"
	"testing"

	"syncer/backends"
	"syncer/backends/local"
)

// TestRefuseKey checks RefuseKey against Put: every key it refuses, Put
// fails on; every key it accepts, Put writes.
func TestRefuseKey(t *testing.T) {
	b := newLocal(t, local.Options{})
	long := strings.Repeat("n", local.NameMax)
	for _, tc := range []struct {
		key, why string // why: "" when accepted
	}{
		{"plain.txt", ""},
		{long, ""},
		{"dir/" + long, ""},
		{"d2/" + long + "/f", ""},
		{"é" + long[2:], ""}, // 255 bytes of UTF-8
		{long + "x", "name longer than 255 bytes"},
		{"dir/" + long + "x", "name longer than 255 bytes"},
		{long + "x/f", "name longer than 255 bytes"},
		{"é" + long[1:], "name longer than 255 bytes"}, // 256 bytes, 255 characters
		{local.TempPrefix + "x", "reserved for syncer's temporary files"},
		{"dir/" + local.TempPrefix, "reserved for syncer's temporary files"},
		{local.TempPrefix + "dir/f", ""}, // a folder may have the prefix
		{".syncer-tmpx", ""},
	} {
		err := b.RefuseKey(tc.key)
		_, putErr := b.Put(t.Context(), tc.key, strings.NewReader("x"), backends.Object{Size: 1})
		short := tc.key[:min(len(tc.key), 40)]
		if tc.why == "" {
			if err != nil {
				t.Errorf("RefuseKey(%q...) = %v, want nil", short, err)
			}
			if putErr != nil {
				t.Errorf("Put(%q...) of an accepted key: %v", short, putErr)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("RefuseKey(%q...) = %v, want %q", short, err, tc.why)
		}
		if putErr == nil {
			t.Errorf("Put(%q...) of a refused key: no error", short)
		}
	}
}

// BenchmarkRefuseKey is plan's cost per source key for a local destination.
func BenchmarkRefuseKey(b *testing.B) {
	l, err := local.New(local.Options{Name: "b", Path: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := l.RefuseKey("photos/2024/05/IMG_20240506_070809.jpg"); err != nil {
			b.Fatal(err)
		}
	}
}
