package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// bigConfig returns a config of exactly size bytes whose sync excludes a
// long list of globs, and how many globs it holds.
func bigConfig(size int) (string, int) {
	var b strings.Builder
	b.WriteString("backend \"local\" \"a\" { path = \"/srv/a\" }\nbackend \"local\" \"b\" { path = \"/srv/b\" }\n")
	b.WriteString("sync \"s\" {\n  from = backend.local.a\n  to   = backend.local.b\n  exclude = [\n")
	const tail = "  ]\n}\n"
	n := 0
	for {
		line := fmt.Sprintf("    \"tmp/dir%07d/**/*.tmp\",\n", n)
		if b.Len()+len(line)+len(tail) > size {
			break
		}
		b.WriteString(line)
		n++
	}
	b.WriteString(tail)
	b.WriteString(strings.Repeat("#", size-b.Len()))
	return b.String(), n
}

// A config of MaxFileSize bytes holding one long exclude list loads, every
// glob decoded; one byte more is refused before it is parsed.
func TestConfigSizeLimit(t *testing.T) {
	dir := t.TempDir()
	src, n := bigConfig(MaxFileSize)
	path := filepath.Join(dir, "big.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := Load(path, LoadOptions{})
	if diags.HasErrors() {
		t.Fatalf("4 MiB config refused: %s", diagText(diags))
	}
	ex := cfg.Syncs[0].Exclude
	if len(ex) != n || n < 100000 || ex[0] != "tmp/dir0000000/**/*.tmp" || ex[n-1] != fmt.Sprintf("tmp/dir%07d/**/*.tmp", n-1) {
		t.Fatalf("decoded %d globs (%q ... %q), want %d", len(ex), ex[0], ex[len(ex)-1], n)
	}

	if err := os.WriteFile(path, []byte(src+"#"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, diags = Load(path, LoadOptions{})
	want := fmt.Sprintf("is %d bytes, larger than %d bytes (4 MiB)", MaxFileSize+1, MaxFileSize)
	if len(diags) != 1 || diags[0].Summary != "Failed to read configuration" || !strings.Contains(diags[0].Detail, want) {
		t.Fatalf("diags = %s; want one containing %q", diagText(diags), want)
	}
}

// A list given through a variable is read element by element too.
func TestLongListThroughVariable(t *testing.T) {
	var b strings.Builder
	b.WriteString("variable \"ex\" {\n  default = [\n")
	const n = 50000
	for i := range n {
		fmt.Fprintf(&b, "    \"tmp/%d/**\",\n", i)
	}
	b.WriteString("  ]\n}\nbackend \"local\" \"a\" { path = \"/srv/a\" }\nbackend \"local\" \"b\" { path = \"/srv/b\" }\n")
	b.WriteString("sync \"s\" {\n  from = backend.local.a\n  to   = backend.local.b\n  exclude = var.ex\n}\n")
	cfg := mustParse(t, t.TempDir(), b.String(), LoadOptions{})
	if ex := cfg.Syncs[0].Exclude; len(ex) != n || ex[n-1] != fmt.Sprintf("tmp/%d/**", n-1) {
		t.Fatalf("decoded %d globs, want %d", len(ex), n)
	}
}

// Anything but a regular file is refused before it is read: /dev/zero
// never ends, a FIFO would block the open.
func TestConfigNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.hcl")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/dev/zero": "/dev/zero is not a regular file but a device",
		dir:         dir + " is not a regular file but a directory",
		fifo:        fifo + " is not a regular file but a named pipe",
	} {
		if _, err := os.Stat(path); err != nil {
			t.Logf("skip %s: %v", path, err)
			continue
		}
		_, diags := Load(path, LoadOptions{})
		if len(diags) != 1 || diags[0].Summary != "Failed to read configuration" || !strings.Contains(diags[0].Detail, want) {
			t.Errorf("Load(%s) = %s; want %q", path, diagText(diags), want)
		}
	}
}

// file() reads through the same bounds.
func TestFileFunctionBounded(t *testing.T) {
	_, diags := parseIn(t, t.TempDir(), "backend \"local\" \"a\" {\n  path = file(\"/dev/zero\")\n}\n", LoadOptions{})
	if got := diagText(diags); !strings.Contains(got, "not a regular file") {
		t.Fatalf("diags = %s", got)
	}
}
