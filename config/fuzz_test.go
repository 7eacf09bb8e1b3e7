package config

import (
	"path/filepath"
	"testing"
)

// Parse must never panic, whatever the input: it returns a Config or
// diagnostics.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		``,
		`backend "local" "a" { path = "a" }`,
		`variable "r" { default = "x" }
backend "local" "a" { path = "${var.r}/a" }
backend "local" "b" { path = env("HOME", "/tmp") }
limits { workers = "auto"  memory = "1GiB"  bandwidth = "5MB/s"  max_delete = 3  duration = "5m" }
sync "s" { from = backend.local.a  to = backend.local.b  include = ["**/*.md"]  delete = "all"  compare = "checksum" }`,
		`sync "s" { from = backend.local.nope to = 3 }`,
		`limits { memory = "12X" }`,
		`backend "s3" "x" { bucket = "b" part_size = "1KiB" }`,
		`state { path = file("nope") }`,
		`${`,
	} {
		f.Add(seed)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, src string) {
		cfg, diags := Parse(filepath.Join(dir, "syncer.hcl"), []byte(src), LoadOptions{
			LookupEnv: func(string) (string, bool) { return "", false },
		})
		if cfg == nil && !diags.HasErrors() {
			t.Fatalf("nil config without an error for %q", src)
		}
	})
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "512MiB", "1.5GiB", "10KB", "-1B", "1e400GiB", "9223372036854775807B", "1 Ki"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := ParseSize(s); err == nil && n < 0 {
			t.Fatalf("ParseSize(%q) = %d, negative without an error", s, n)
		}
		ParseRate(s)
	})
}
