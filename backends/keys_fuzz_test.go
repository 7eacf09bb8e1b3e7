package backends

import (
	"strings"
	"testing"
)

// A key CheckKey accepts can never leave the root once joined to a path.
func FuzzCheckKey(f *testing.F) {
	for _, s := range []string{"a", "a/b", "../x", "/abs", "a//b", "a/./b", ".hidden", "..x", "x/..", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if CheckKey(key) != nil {
			return
		}
		if strings.HasPrefix(key, "/") {
			t.Fatalf("accepted absolute key %q", key)
		}
		for _, seg := range strings.Split(key, "/") {
			if seg == "" || seg == "." || seg == ".." {
				t.Fatalf("accepted key %q with segment %q", key, seg)
			}
		}
	})
}
