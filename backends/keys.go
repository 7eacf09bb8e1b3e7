package backends

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// CheckKey reports whether key is safe to use as an object key: non-empty,
// valid UTF-8, relative, with no empty, "." or ".." segments and no NUL.
// Backends call it before a key touches a store, so a hostile listing or
// state file can never address anything outside the backend's root.
func CheckKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("invalid key %q: empty", key)
	case !utf8.ValidString(key):
		return fmt.Errorf("invalid key %q: not valid UTF-8", key)
	case strings.ContainsRune(key, 0):
		return fmt.Errorf("invalid key %q: contains NUL", key)
	case strings.HasPrefix(key, "/"):
		return fmt.Errorf("invalid key %q: absolute path", key)
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch seg {
		case "":
			return fmt.Errorf("invalid key %q: empty path segment", key)
		case ".", "..":
			return fmt.Errorf("invalid key %q: %q segment escapes the root", key, seg)
		}
	}
	return nil
}
