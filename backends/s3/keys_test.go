package s3

import (
	"strings"
	"testing"
)

func TestRefuseKey(t *testing.T) {
	for _, tc := range []struct {
		root, key string
		refused   bool
	}{
		{"", strings.Repeat("k", 1024), false},
		{"", strings.Repeat("k", 1025), true},
		{"", strings.Repeat("é", 512), false}, // 1024 bytes
		{"", strings.Repeat("é", 513), true},  // 1026 bytes, 513 characters
		{"photos/", strings.Repeat("k", 1024-len("photos/")), false},
		{"photos/", strings.Repeat("k", 1025-len("photos/")), true},
	} {
		err := (&Backend{root: tc.root}).RefuseKey(tc.key)
		if (err != nil) != tc.refused {
			t.Errorf("root %q, key of %d bytes: RefuseKey = %v, want refused %v", tc.root, len(tc.key), err, tc.refused)
		}
		if err != nil && tc.root != "" && !strings.Contains(err.Error(), tc.root) {
			t.Errorf("RefuseKey = %q, which does not name the prefix", err)
		}
	}
}
