package config

import (
	"strings"
	"testing"
	"time"
)

const opsBackend = `backend "s3" "ops" {
  bucket = "ops"
  prefix = "team/"
  region = "eu-west-1"
}
`

func TestRemoteState(t *testing.T) {
	cfg := mustParse(t, t.TempDir(), opsBackend+`
state {
  backend    = backend.s3.ops
  key        = "syncer/media.db"
  checkpoint = "30s"
  lock_ttl   = "90s"
}
`, LoadOptions{})
	st := cfg.State
	if !st.Remote() || st.Backend != cfg.Backends[0] || st.Key != "syncer/media.db" || st.Path != "" ||
		st.Checkpoint != 30*time.Second || st.LockTTL != 90*time.Second {
		t.Fatalf("state = %+v", st)
	}
	if got := st.Where(); got != `backend.s3.ops key "syncer/media.db"` {
		t.Errorf("Where() = %q", got)
	}
	// Defaults; and the state's place is part of the hash.
	cfg2 := mustParse(t, t.TempDir(), opsBackend+"state {\n  backend = backend.s3.ops\n  key = \"other.db\"\n}\n", LoadOptions{})
	if cfg2.State.Checkpoint != DefaultCheckpoint || cfg2.State.LockTTL != DefaultLockTTL {
		t.Errorf("defaults: %+v", cfg2.State)
	}
	cfg3 := mustParse(t, t.TempDir(), opsBackend+"state {\n  backend = backend.s3.ops\n  key = \"syncer/media.db\"\n}\n", LoadOptions{})
	if cfg2.Hash == cfg3.Hash {
		t.Error("two state keys give the same config hash")
	}
}

func TestRemoteStateErrors(t *testing.T) {
	local := `backend "local" "l" { path = "/srv/l" }` + "\n"
	for _, tt := range []struct {
		name, src, want string
		line            int
	}{
		{"path and backend", opsBackend + "state {\n  path = \"x.db\"\n  backend = backend.s3.ops\n  key = \"k\"\n}\n",
			"Conflicting state settings", 7},
		{"missing key", opsBackend + "state {\n  backend = backend.s3.ops\n}\n", `The argument "key" is required`, 6},
		{"bad key", opsBackend + "state {\n  backend = backend.s3.ops\n  key = \"a//b\"\n}\n", "Invalid state key", 8},
		{"undeclared", opsBackend + "state {\n  backend = backend.s3.nope\n  key = \"k\"\n}\n", "Reference to undeclared backend", 7},
		{"quoted", opsBackend + "state {\n  backend = \"backend.s3.ops\"\n  key = \"k\"\n}\n", "Invalid backend reference", 7},
		{"local backend", local + "state {\n  backend = backend.local.l\n  key = \"k\"\n}\n", "Unsupported state backend", 3},
		{"bad lock_ttl", opsBackend + "state {\n  backend = backend.s3.ops\n  key = \"k\"\n  lock_ttl = \"1s\"\n}\n", "Invalid lock_ttl", 9},
		{"bad checkpoint", opsBackend + "state {\n  backend = backend.s3.ops\n  key = \"k\"\n  checkpoint = \"soon\"\n}\n", "Invalid checkpoint", 9},
		{"key without backend", "state {\n  path = \"x.db\"\n  key = \"k\"\n}\n", "Unexpected state setting", 3},
		{"state in synced prefix", opsBackend + local + "state {\n  backend = backend.s3.ops\n  key = \"media/syncer.db\"\n}\n" +
			"sync \"s\" {\n  from = backend.local.l\n  to   = backend.s3.ops\n  prefix = \"media/\"\n}\n", "State object inside a synced place", 11},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := parseIn(t, t.TempDir(), tt.src, LoadOptions{})
			for _, d := range diags {
				if strings.Contains(d.Summary+": "+d.Detail, tt.want) {
					if d.Subject == nil || d.Subject.Start.Line != tt.line {
						t.Errorf("subject %v, want line %d", d.Subject, tt.line)
					}
					return
				}
			}
			t.Fatalf("no diagnostic contains %q; got:\n%s", tt.want, diagText(diags))
		})
	}
}
