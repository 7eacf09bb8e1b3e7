package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseAge(t *testing.T) {
	good := map[string]time.Duration{
		"0": 0, "36h": 36 * time.Hour, "90m": 90 * time.Minute, "30d": 30 * 24 * time.Hour,
		"2w": 14 * 24 * time.Hour, " 1h30m ": 90 * time.Minute,
	}
	for in, want := range good {
		if got, err := ParseAge(in); err != nil || got != want {
			t.Errorf("ParseAge(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1h", "-2d", "1.5d", "d", "3 days", "1y", "10"} {
		if got, err := ParseAge(in); err == nil {
			t.Errorf("ParseAge(%q) = %v; want an error", in, got)
		}
	}
}

const filtersBase = `
backend "local" "src" { path = "src" }
backend "local" "dst" { path = "dst" }
backend "local" "bak" { path = "bak" }
sync "s" {
  from = backend.local.src
  to   = backend.local.dst
  %s
}
`

func TestFilterSettings(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "keys.txt"), []byte("# c\r\na.txt\r\n\r\n  b/c.txt\t\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := mustParse(t, dir, strings.Replace(filtersBase, "%s", `
  prefix          = "p/"
  min_size        = "1KiB"
  max_size        = "1.5MB"
  min_age         = "1h"
  max_age         = "2w"
  files_from      = "keys.txt"
  delete          = "all"
  delete_excluded = true
  backup {
    to     = backend.local.bak
    prefix = "old/${run}/${upper("x")}/"
  }`, 1), LoadOptions{})
	s := cfg.Syncs[0]
	if s.MinSize != 1024 || s.MaxSize != 1_500_000 || s.MinAge != time.Hour || s.MaxAge != 14*24*time.Hour {
		t.Errorf("bounds = %+v", s.Filters)
	}
	if s.FilesFrom != filepath.Join(dir, "keys.txt") || len(s.FilesFromSum) != 64 || !s.DeleteExcluded || s.Immutable {
		t.Errorf("sync = %+v", s)
	}
	if s.Backup == nil || s.Backup.To.Name != "bak" || s.Backup.Prefix != "old/${run}/X/" {
		t.Fatalf("backup = %+v", s.Backup)
	}
	at := time.Date(2026, 12, 2, 19, 30, 0, 0, time.FixedZone("x", 3600))
	if got := s.Backup.KeyFor(at, "p/a.txt"); got != "old/20261202T183000Z/X/p/a.txt" {
		t.Errorf("KeyFor = %q", got)
	}
	var keys []string
	if _, err := FilesFromKeys(s.FilesFrom, s.Prefix, func(k string) error { keys = append(keys, k); return nil },
		func(line, _ int, msg string) { t.Errorf("line %d: %s", line, msg) }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(keys, ",") != "p/a.txt,p/b/c.txt" {
		t.Errorf("keys = %q", keys)
	}

	// Defaults: no bounds.
	cfg = mustParse(t, dir, strings.Replace(filtersBase, "%s", "", 1), LoadOptions{})
	if f := cfg.Syncs[0].Filters; f.Active() || f.MaxSize != -1 {
		t.Errorf("default filters = %+v", f)
	}

	// A changed list changes the hash; an unchanged one does not.
	src := strings.Replace(filtersBase, "%s", `files_from = "keys.txt"`, 1)
	h1 := mustParse(t, dir, src, LoadOptions{}).Hash
	if h := mustParse(t, dir, src, LoadOptions{}).Hash; h != h1 {
		t.Error("hash not stable")
	}
	os.WriteFile(filepath.Join(dir, "keys.txt"), []byte("a.txt\nd.txt\n"), 0o644)
	if h := mustParse(t, dir, src, LoadOptions{}).Hash; h == h1 {
		t.Error("hash unchanged after the files_from list changed")
	}
}

func TestFilterErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bad.txt"), []byte("ok\n/abs\nx//y\n"+strings.Repeat("k", 70000)+"\n"), 0o644)
	cases := []struct{ body, want string }{
		{`min_size = "-1B"`, "cannot be negative"},
		{`max_size = "5"`, "bare number"},
		{"min_size = \"2B\"\n  max_size = \"1B\"", "Inverted size bounds"},
		{`min_age = "-1h"`, "negative"},
		{"min_age = \"2d\"\n  max_age = \"1d\"", "Inverted age bounds"},
		{`files_from = "none.txt"`, "Cannot read the list of keys"},
		{`files_from = ""`, "must name a file"},
		{`files_from = "bad.txt"`, "absolute path"},
		{`files_from = "bad.txt"`, "empty path segment"},
		{`files_from = "bad.txt"`, "longer than 65536 bytes"},
		{`delete_excluded = true`, "delete_excluded without deletes"},
		{"delete = \"all\"\n  immutable = true", "immutable with deletes"},
		{"delete = \"managed\"\n  immutable = true", "immutable with deletes"},
		{`immutable = "yes"`, "immutable"},
		{"backup {\n to = backend.local.dst\n }", "overlaps the sync's destination"},
		{"backup {\n to = backend.local.src\n }", "overlaps the sync's source"},
		{"backup {\n to = backend.local.bak\n prefix = \"/x/\"\n }", "Invalid backup prefix"},
		{"backup {\n to = backend.local.nope\n }", "undeclared backend"},
		{"backup {\n to = backend.local.bak\n }\n backup {\n to = backend.local.bak\n }", "Duplicate backup block"},
	}
	for _, c := range cases {
		_, diags := parseIn(t, dir, strings.Replace(filtersBase, "%s", c.body, 1), LoadOptions{})
		if !diags.HasErrors() || !strings.Contains(diagText(diags), c.want) {
			t.Errorf("%s: diagnostics %q, want %q", c.body, diagText(diags), c.want)
		}
	}
	// Each bad list line is reported at its own line.
	_, diags := parseIn(t, dir, strings.Replace(filtersBase, "%s", `files_from = "bad.txt"`, 1), LoadOptions{})
	var lines []int
	for _, d := range diags {
		if d.Subject != nil && strings.HasSuffix(d.Subject.Filename, "bad.txt") {
			lines = append(lines, d.Subject.Start.Line)
		}
	}
	if len(lines) != 3 || lines[0] != 2 || lines[1] != 3 || lines[2] != 4 {
		t.Errorf("bad lines reported at %v; want [2 3 4]", lines)
	}

	// A list of many bad lines gives the first few and a count.
	os.WriteFile(filepath.Join(dir, "many.txt"), []byte(strings.Repeat("../x\n", 100000)), 0o644)
	_, diags = parseIn(t, dir, strings.Replace(filtersBase, "%s", `files_from = "many.txt"`, 1), LoadOptions{})
	if len(diags) != maxBadLines+1 || !strings.Contains(diagText(diags), "99990 more malformed lines") {
		t.Errorf("%d diagnostics: %s", len(diags), diagText(diags[len(diags)-1:]))
	}
}
