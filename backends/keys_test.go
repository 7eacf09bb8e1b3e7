package backends

import (
	"strings"
	"testing"
)

func TestCheckKey(t *testing.T) {
	valid := []string{
		"a", "a/b", "a b/c d", "café/日本", ".hidden", "..x", "x..", "a/.b/..c", "%41", "a+b",
		strings.Repeat("d/", 20) + "f",
	}
	invalid := []string{
		"", "/", "/a", "a/", "a//b", ".", "..", "./a", "a/.", "a/./b", "../a", "a/..", "a/../b",
		"bad\xffutf8", "nul\x00",
	}
	for _, k := range valid {
		if err := CheckKey(k); err != nil {
			t.Errorf("CheckKey(%q) = %v; want nil", k, err)
		}
	}
	for _, k := range invalid {
		if err := CheckKey(k); err == nil {
			t.Errorf("CheckKey(%q) = nil; want an error", k)
		}
	}
}
