package registry

import (
	"strings"
	"testing"

	"syncer/backends"
)

// Every attribute points at a field of the type its kind says, so config
// can fill it, and names are unique snake_case.
func TestAttrsMatchTheirFields(t *testing.T) {
	for _, name := range Names() {
		k, _ := Lookup(name)
		seen := map[string]bool{}
		for _, a := range k.New().Attrs() {
			if seen[a.Name] || a.Name == "" || strings.ToLower(a.Name) != a.Name || strings.ContainsAny(a.Name, " -") {
				t.Errorf("%s: attribute name %q is empty, repeated or not snake_case", name, a.Name)
			}
			seen[a.Name] = true
			var ok bool
			switch a.Kind {
			case backends.AttrString, backends.AttrPath:
				_, ok = a.Ptr.(*string)
			case backends.AttrBool:
				_, ok = a.Ptr.(*bool)
			case backends.AttrSize:
				_, ok = a.Ptr.(*int64)
			case backends.AttrInt:
				_, ok = a.Ptr.(*int)
			case backends.AttrStringMap:
				_, ok = a.Ptr.(*map[string]string)
			}
			if !ok {
				t.Errorf("%s.%s: kind %d with a field of type %T", name, a.Name, a.Kind, a.Ptr)
			}
		}
	}
}

func TestOpenUnknownKind(t *testing.T) {
	if _, err := Open(t.Context(), "ftp", "x", nil, &Env{}); err == nil || !strings.Contains(err.Error(), `"ftp"`) {
		t.Errorf("Open of an unknown kind: %v", err)
	}
}
