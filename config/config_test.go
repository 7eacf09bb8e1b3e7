package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"syncer/backends"
	"syncer/backends/local"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

const fullExample = `variable "root" { default = "./data" }

state  { path = "syncer.db" }

limits {
  workers     = "auto"
  max_workers = 2
  memory      = "512MiB"
  bandwidth   = "50MiB/s"
  max_delete  = 1000
  duration    = "50m"
}

backend "local" "src" {
  path  = "${var.root}/src"
  fsync = false
}

backend "local" "dst" { path = env("DEST_DIR") }

sync "docs" {
  from    = backend.local.src
  to      = backend.local.dst
  prefix  = ""
  include = ["**/*.md"]
  exclude = ["tmp/**"]
  delete  = "managed"
  compare = "checksum"
}
`

// envMap returns a LookupEnv over m.
func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// parseIn parses src as dir/syncer.hcl.
func parseIn(t *testing.T, dir, src string, opts LoadOptions) (*Config, hcl.Diagnostics) {
	t.Helper()
	if opts.LookupEnv == nil {
		opts.LookupEnv = envMap(nil)
	}
	return Parse(filepath.Join(dir, "syncer.hcl"), []byte(src), opts)
}

func mustParse(t *testing.T, dir, src string, opts LoadOptions) *Config {
	t.Helper()
	cfg, diags := parseIn(t, dir, src, opts)
	if diags.HasErrors() {
		t.Fatalf("unexpected diagnostics: %v", diags)
	}
	return cfg
}

func TestFullExample(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(t.TempDir(), "dest")
	path := filepath.Join(dir, "syncer.hcl")
	if err := os.WriteFile(path, []byte(fullExample), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, diags := Load(path, LoadOptions{LookupEnv: envMap(map[string]string{"DEST_DIR": dest + "/"})})
	if diags.HasErrors() {
		t.Fatalf("diagnostics: %v", diags)
	}
	if cfg.Path != path || cfg.Dir != dir {
		t.Errorf("Path, Dir = %q, %q; want %q, %q", cfg.Path, cfg.Dir, path, dir)
	}
	if want := (State{Path: filepath.Join(dir, "syncer.db")}); cfg.State != want {
		t.Errorf("State = %+v, want %+v", cfg.State, want)
	}
	wantLimits := Limits{Workers: 0, MaxWorkers: 2, Memory: 512 << 20, Bandwidth: 50 << 20, MaxDelete: 1000, Duration: 50 * time.Minute}
	if cfg.Limits != wantLimits {
		t.Errorf("Limits = %+v, want %+v", cfg.Limits, wantLimits)
	}
	if len(cfg.Backends) != 2 {
		t.Fatalf("got %d backends", len(cfg.Backends))
	}
	src, dst := cfg.Backends[0], cfg.Backends[1]
	if src.Type != "local" || src.Name != "src" || src.Addr() != "backend.local.src" || src.DeclRange.Start.Line != 14 {
		t.Errorf("src = %+v", src)
	}
	if want := (local.Options{Path: filepath.Join(dir, "data", "src")}); *src.Options.(*local.Options) != want {
		t.Errorf("src.Options = %+v, want %+v", *src.Options.(*local.Options), want)
	}
	if want := (local.Options{Path: dest}); dst.Addr() != "backend.local.dst" || *dst.Options.(*local.Options) != want {
		t.Errorf("dst = %s %+v, want %+v", dst.Addr(), *dst.Options.(*local.Options), want)
	}
	if len(cfg.Syncs) != 1 {
		t.Fatalf("got %d syncs", len(cfg.Syncs))
	}
	s := *cfg.Syncs[0]
	if s.DeclRange.Start.Line != 21 {
		t.Errorf("sync DeclRange line = %d", s.DeclRange.Start.Line)
	}
	s.DeclRange = hcl.Range{}
	want := Sync{Name: "docs", From: src, To: dst, Prefix: "", Include: []string{"**/*.md"}, Exclude: []string{"tmp/**"},
		Delete: DeleteManaged, Compare: CompareChecksum, Filters: Filters{MaxSize: -1}}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("sync = %+v\nwant %+v", s, want)
	}
	if len(cfg.Hash) != 64 {
		t.Errorf("Hash = %q", cfg.Hash)
	}
	if cfg.Files[path] == nil {
		t.Errorf("Files lacks %s: %v", path, cfg.Files)
	}
}

func TestDefaults(t *testing.T) {
	dir := t.TempDir()
	cfg := mustParse(t, dir, `
backend "local" "a" { path = "/srv/a/../a" }
backend "local" "b" { path = "b" }
sync "s" {
  from = backend.local.a
  to   = backend.local.b
}
`, LoadOptions{})
	if cfg.State.Path != filepath.Join(dir, "syncer.db") {
		t.Errorf("State.Path = %q", cfg.State.Path)
	}
	if want := (Limits{MaxWorkers: 2, MaxDelete: -1}); cfg.Limits != want {
		t.Errorf("Limits = %+v, want %+v", cfg.Limits, want)
	}
	if got := cfg.Backends[0].Options.(*local.Options).Path; got != "/srv/a" {
		t.Errorf("a path = %q", got)
	}
	if got := cfg.Backends[1].Options.(*local.Options).Path; got != filepath.Join(dir, "b") {
		t.Errorf("b path = %q", got)
	}
	s := cfg.Syncs[0]
	if s.Delete != DeleteNone || s.Compare != CompareModTime || s.Prefix != "" || s.Include != nil || s.Exclude != nil {
		t.Errorf("sync defaults = %+v", s)
	}
}

func TestLimits(t *testing.T) {
	tests := []struct {
		src  string
		want Limits
	}{
		{`workers = 2`, Limits{Workers: 2, MaxWorkers: 2, MaxDelete: -1}},
		{`workers = "2"`, Limits{Workers: 2, MaxWorkers: 2, MaxDelete: -1}},
		{"workers = 8\nmax_workers = 8", Limits{Workers: 8, MaxWorkers: 8, MaxDelete: -1}},
		{`max_workers = 16`, Limits{MaxWorkers: 16, MaxDelete: -1}},
		{`max_delete = 0`, Limits{MaxWorkers: 2, MaxDelete: 0}},
		{`memory = "1.5GiB"`, Limits{MaxWorkers: 2, MaxDelete: -1, Memory: 3 << 29}},
		{`bandwidth = "10MB/s"`, Limits{MaxWorkers: 2, MaxDelete: -1, Bandwidth: 10e6}},
		{`duration = "1h30m"`, Limits{MaxWorkers: 2, MaxDelete: -1, Duration: 90 * time.Minute}},
		{`requests_per_second = 10`, Limits{MaxWorkers: 2, MaxDelete: -1, RequestsPerSecond: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			cfg := mustParse(t, t.TempDir(), "limits {\n"+tt.src+"\n}\n", LoadOptions{})
			if cfg.Limits != tt.want {
				t.Errorf("Limits = %+v, want %+v", cfg.Limits, tt.want)
			}
		})
	}
}

func TestVariables(t *testing.T) {
	const src = `
variable "root" {
  description = "where the data lives"
  default     = "/default"
}
variable "n" { default = 3 }
backend "local" "a" { path = "${var.root}/a" }
limits { max_workers = var.n }
`
	tests := []struct {
		name     string
		opts     LoadOptions
		wantPath string
		wantMax  int
	}{
		{"defaults", LoadOptions{}, "/default/a", 3},
		{"from env", LoadOptions{LookupEnv: envMap(map[string]string{"SYNCER_VAR_root": "/env", "SYNCER_VAR_n": "5"})}, "/env/a", 5},
		{"-var wins over env", LoadOptions{
			Vars:      map[string]string{"root": "/cli", "n": "7"},
			LookupEnv: envMap(map[string]string{"SYNCER_VAR_root": "/env"}),
		}, "/cli/a", 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustParse(t, t.TempDir(), src, tt.opts)
			if got := cfg.Backends[0].Options.(*local.Options).Path; got != tt.wantPath {
				t.Errorf("path = %q, want %q", got, tt.wantPath)
			}
			if cfg.Limits.MaxWorkers != tt.wantMax {
				t.Errorf("MaxWorkers = %d, want %d", cfg.Limits.MaxWorkers, tt.wantMax)
			}
		})
	}
}

func TestFunctions(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "where.txt"), []byte("  /from/file \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ expr, want string }{
		{`env("HOME_DIR")`, "/home/me"},
		{`env("NOPE", "/fallback")`, "/fallback"},
		{`env("HOME_DIR", "/fallback")`, "/home/me"},
		{`trimspace(file("where.txt"))`, "/from/file"},
		{`lower("/UP")`, "/up"},
		{`"/${upper("x")}"`, "/X"},
		{`join("/", ["", "a", "b"])`, "/a/b"},
		{`format("/%s-%d", "v", 2)`, "/v-2"},
		{`coalesce(null, "/c")`, "/c"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			cfg := mustParse(t, dir, `backend "local" "a" { path = `+tt.expr+` }`,
				LoadOptions{LookupEnv: envMap(map[string]string{"HOME_DIR": "/home/me"})})
			if got := cfg.Backends[0].Options.(*local.Options).Path; got != tt.want {
				t.Errorf("path = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHash(t *testing.T) {
	dir := t.TempDir()
	hash := func(src string) string {
		t.Helper()
		return mustParse(t, dir, src, LoadOptions{LookupEnv: envMap(map[string]string{"DEST_DIR": "/dest"})}).Hash
	}
	base := hash(fullExample)
	if again := hash(fullExample); again != base {
		t.Fatalf("hash not stable: %s vs %s", base, again)
	}
	same := []struct{ old, new string }{
		{`memory      = "512MiB"`, `memory      = "1GiB"`},
		{`max_delete  = 1000`, `max_delete  = 5`},
		{`workers     = "auto"`, `workers     = 1`},
		{`variable "root" { default = "./data" }`, `variable "root" { default = "./data/" }`},
	}
	for _, c := range same {
		if h := hash(strings.Replace(fullExample, c.old, c.new, 1)); h != base {
			t.Errorf("hash changed for %s -> %s", c.old, c.new)
		}
	}
	changed := []struct{ old, new string }{
		{`compare = "checksum"`, `compare = "size"`},
		{`delete  = "managed"`, `delete  = "all"`},
		{`prefix  = ""`, `prefix  = "a/"`},
		{`include = ["**/*.md"]`, `include = ["**/*.txt"]`},
		{`exclude = ["tmp/**"]`, `exclude = []`},
		{`sync "docs"`, `sync "docs2"`},
		{`fsync = false`, `fsync = true`},
		{`state  { path = "syncer.db" }`, `state  { path = "other.db" }`},
		{`default = "./data"`, `default = "./data2"`},
	}
	for _, c := range changed {
		if h := hash(strings.Replace(fullExample, c.old, c.new, 1)); h == base {
			t.Errorf("hash unchanged for %s -> %s", c.old, c.new)
		}
	}
}

func TestBadConfigs(t *testing.T) {
	const two = `
backend "local" "a" { path = "/srv/a" }
backend "local" "b" { path = "/srv/b" }
`
	syncAB := func(body string) string {
		return two + "sync \"s\" {\n  from = backend.local.a\n  to   = backend.local.b\n" + body + "\n}\n"
	}
	tests := []struct {
		name string
		src  string
		opts LoadOptions
		want string // substring of Summary + ": " + Detail
		line int    // Subject.Start.Line; 0 = no subject
	}{
		{"unknown block", "bogus {}\n", LoadOptions{}, "Unsupported block type", 1},
		{"unknown attribute top", "x = 1\n", LoadOptions{}, "Unsupported argument", 1},
		{"unknown attribute backend", "backend \"local\" \"a\" {\n  path = \"/a\"\n  colour = 1\n}\n", LoadOptions{}, `Unsupported argument: An argument named "colour"`, 3},
		{"unknown attribute sync", syncAB(`  mode = "x"`), LoadOptions{}, "Unsupported argument", 7},
		{"unknown attribute limits", "limits {\n  speed = 1\n}\n", LoadOptions{}, "Unsupported argument", 2},
		{"syntax error", "backend \"local\" \"a\" {\n  path = \n}\n", LoadOptions{}, "Invalid expression", 2},
		{"unknown backend type", "\nbackend \"ftp\" \"a\" {}\n", LoadOptions{}, `Unsupported backend type: Backend type "ftp" is not supported. Known types: "gdrive", "local"`, 2},
		{"missing local path", "\n\nbackend \"local\" \"a\" {\n}\n", LoadOptions{}, `Missing required argument: The argument "path" is required`, 3},
		{"empty local path", "backend \"local\" \"a\" {\n  path = \"\"\n}\n", LoadOptions{}, "Invalid path value", 2},
		{"bad fsync", "backend \"local\" \"a\" {\n  path = \"/a\"\n  fsync = \"maybe\"\n}\n", LoadOptions{}, "Incorrect attribute value type", 3},
		{"missing from", two + "sync \"s\" {\n  to = backend.local.b\n}\n", LoadOptions{}, `Missing required argument: The argument "from" is required`, 4},
		{"null path", "backend \"local\" \"a\" {\n  path = null\n}\n", LoadOptions{}, "Invalid path value", 2},
		{"undeclared backend", two + "sync \"s\" {\n  from = backend.local.a\n  to   = backend.local.nope\n}\n", LoadOptions{}, `Reference to undeclared backend: There is no backend "local" "nope"`, 6},
		{"undeclared backend type", two + "sync \"s\" {\n  from = backend.s3.a\n  to   = backend.local.b\n}\n", LoadOptions{}, "Reference to undeclared backend", 5},
		{"from is a string", two + "sync \"s\" {\n  from = \"backend.local.a\"\n  to   = backend.local.b\n}\n", LoadOptions{}, "Invalid backend reference", 5},
		{"from too short", two + "sync \"s\" {\n  from = backend.local\n  to   = backend.local.b\n}\n", LoadOptions{}, "Invalid backend reference", 5},
		{"from wrong root", two + "sync \"s\" {\n  from = var.local.a\n  to   = backend.local.b\n}\n", LoadOptions{}, "Invalid backend reference", 5},
		{"duplicate backend", two + "backend \"local\" \"a\" { path = \"/x\" }\n", LoadOptions{}, "Duplicate backend: A backend \"local\" \"a\" was already declared at", 4},
		{"duplicate sync", syncAB("") + "sync \"s\" {\n  from = backend.local.a\n  to = backend.local.b\n}\n", LoadOptions{}, `Duplicate sync: A sync named "s"`, 9},
		{"duplicate variable", "variable \"x\" {}\nvariable \"x\" {}\n", LoadOptions{}, `Duplicate variable: A variable named "x"`, 2},
		{"two state blocks", "state {}\n\nstate {}\n", LoadOptions{}, "Duplicate state block", 3},
		{"two limits blocks", "limits {}\nlimits {}\n", LoadOptions{}, "Duplicate limits block", 2},
		{"empty state path", "state {\n  path = \"\"\n}\n", LoadOptions{}, "Invalid state path", 2},
		{"same backend", two + "sync \"s\" {\n  from = backend.local.a\n  to   = backend.local.a\n}\n", LoadOptions{}, "Sync source and destination are the same", 6},
		{"same path", "backend \"local\" \"a\" { path = \"/srv/a\" }\nbackend \"local\" \"b\" { path = \"/srv/x/../a/\" }\n" +
			"sync \"s\" {\n  from = backend.local.a\n  to   = backend.local.b\n}\n", LoadOptions{}, "Sync source and destination are the same", 5},
		{"dst inside src", "backend \"local\" \"a\" { path = \"/srv\" }\nbackend \"local\" \"b\" { path = \"/srv/a/b\" }\n" +
			"sync \"s\" {\n  from = backend.local.a\n  to   = backend.local.b\n}\n", LoadOptions{}, "Sync source and destination overlap", 5},
		{"src inside dst", "backend \"local\" \"a\" { path = \"/srv/a/b\" }\nbackend \"local\" \"b\" { path = \"/srv/a\" }\n" +
			"sync \"s\" {\n  from = backend.local.a\n  to   = backend.local.b\n}\n", LoadOptions{}, "Sync source and destination overlap", 5},
		{"root nests everything", "backend \"local\" \"a\" { path = \"/\" }\nbackend \"local\" \"b\" { path = \"/srv\" }\n" +
			"sync \"s\" {\n  from = backend.local.a\n  to   = backend.local.b\n}\n", LoadOptions{}, "Sync source and destination overlap", 5},
		{"bad delete", syncAB(`  delete = "some"`), LoadOptions{}, `Invalid delete policy: delete must be one of "none", "managed" or "all"`, 7},
		{"bad compare", syncAB(`  compare = "md5"`), LoadOptions{}, `Invalid compare mode: compare must be one of "size", "modtime" or "checksum"`, 7},
		{"bad include glob", syncAB("  include = [\n    \"ok/**\",\n    \"bad[\",\n  ]"), LoadOptions{}, `Invalid glob pattern: include pattern "bad["`, 9},
		{"bad exclude glob", syncAB(`  exclude = ["{a,b"]`), LoadOptions{}, "Invalid glob pattern", 7},
		{"absolute glob", syncAB(`  exclude = ["/tmp/**"]`), LoadOptions{}, "Invalid glob pattern", 7},
		{"empty glob", syncAB(`  include = [""]`), LoadOptions{}, "Invalid glob pattern", 7},
		{"include not a list", syncAB(`  include = "x"`), LoadOptions{}, "Incorrect attribute value type", 7},
		{"prefix leading slash", syncAB(`  prefix = "/photos"`), LoadOptions{}, `Invalid prefix: prefix "/photos" must not start with "/"`, 7},
		{"prefix dotdot", syncAB(`  prefix = "a/../b/"`), LoadOptions{}, `must not contain ".." segments`, 7},
		{"prefix empty segment", syncAB(`  prefix = "a//b"`), LoadOptions{}, "Invalid prefix", 7},
		{"bad memory", "limits {\n  memory = \"512mb\"\n}\n", LoadOptions{}, "Invalid memory size", 2},
		{"bare memory number", "limits {\n  memory = 512\n}\n", LoadOptions{}, "bare number is ambiguous", 2},
		{"bad bandwidth", "limits {\n  bandwidth = \"50M/s\"\n}\n", LoadOptions{}, "Invalid bandwidth", 2},
		{"bad duration", "limits {\n  duration = \"50\"\n}\n", LoadOptions{}, "Invalid duration", 2},
		{"zero duration", "limits {\n  duration = \"0s\"\n}\n", LoadOptions{}, "Invalid duration", 2},
		{"bad workers string", "limits {\n  workers = \"many\"\n}\n", LoadOptions{}, `Invalid workers value: workers must be "auto" or a whole number`, 2},
		{"zero workers", "limits {\n  workers = 0\n}\n", LoadOptions{}, "Invalid workers value", 2},
		{"fractional workers", "limits {\n  workers = 1.5\n}\n", LoadOptions{}, "Invalid workers value", 2},
		{"workers above max", "limits {\n  max_workers = 3\n  workers = 4\n}\n", LoadOptions{}, "workers = 4 is more than max_workers = 3", 3},
		{"workers above default max", "limits {\n  workers = 4\n}\n", LoadOptions{}, "more than max_workers = 2", 2},
		{"zero max_workers", "limits {\n  max_workers = 0\n}\n", LoadOptions{}, "Invalid max_workers value", 2},
		{"negative max_delete", "limits {\n  max_delete = -2\n}\n", LoadOptions{}, "Invalid max_delete value", 2},
		{"unset variable", "\nvariable \"root\" {}\nbackend \"local\" \"a\" { path = var.root }\n", LoadOptions{},
			`No value for required variable: The variable "root" is used at`, 2},
		{"undeclared variable ref", "backend \"local\" \"a\" {\n  path = var.nope\n}\n", LoadOptions{}, `Reference to undeclared input variable: There is no variable named "nope"`, 2},
		{"env unset", "backend \"local\" \"a\" {\n  path = env(\"NOT_SET_ANYWHERE\")\n}\n", LoadOptions{}, `"NOT_SET_ANYWHERE" is not set`, 2},
		{"file unreadable", "backend \"local\" \"a\" {\n  path = file(\"missing.txt\")\n}\n", LoadOptions{}, "cannot read file", 2},
		{"var for undeclared", "variable \"a\" { default = 1 }\n", LoadOptions{Vars: map[string]string{"b": "x"}}, `Value for undeclared variable: A value was given for the variable "b"`, 0},
		{"variable in default", "variable \"a\" {\n  default = var.b\n}\nvariable \"b\" { default = 1 }\n", LoadOptions{}, "Variables not allowed", 2},
		{"bad backend name", "backend \"local\" \"a b\" { path = \"/a\" }\n", LoadOptions{}, "Invalid backend name", 1},
		{"NUL in path", "backend \"local\" \"a\" {\n  path = \"/a\\u0000b\"\n}\n", LoadOptions{}, `Invalid path value: The value of "path" must not contain a NUL byte`, 2},
		{"NUL in state path", "state {\n  path = \"x\\u0000.db\"\n}\n", LoadOptions{}, "must not contain a NUL byte", 2},
		{"NUL in prefix", syncAB(`  prefix = "a\u0000/"`), LoadOptions{}, `Invalid prefix value: The value of "prefix" must not contain a NUL byte`, 7},
		{"NUL in a glob", syncAB("  exclude = [\n    \"ok/**\",\n    \"x\\u0000\",\n  ]"), LoadOptions{}, `Invalid exclude value: The value of "exclude" must not contain a NUL byte`, 9},
		{"NUL through a variable", "variable \"p\" { default = \"\\u0000\" }\nbackend \"local\" \"a\" {\n  path = \"/a/${var.p}\"\n}\n", LoadOptions{}, "must not contain a NUL byte", 3},
		{"NUL in a list variable", "variable \"g\" { default = [\"a\", \"\\u0000\"] }\n" + syncAB("  include = var.g"), LoadOptions{}, "must not contain a NUL byte", 8},
		{"list variable of lists", "variable \"g\" { default = [\"a\", [\"b\"]] }\n" + syncAB("  include = var.g"), LoadOptions{}, "Incorrect attribute value type", 8},
		{"bad element in a list", syncAB("  include = [\n    \"a\",\n    [\"b\"],\n  ]"), LoadOptions{}, "Incorrect attribute value type", 9},
		{"unknown metadata set field", syncAB("  metadata {\n    set = {\n      \"cache-control\" = \"no-store\"\n      \"x-colour\" = \"red\"\n    }\n  }"), LoadOptions{},
			`Invalid metadata field: set: unknown metadata field "x-colour"`, 10},
		{"unknown metadata drop field", syncAB("  metadata {\n    drop = [\n      \"x-amz-meta-id\",\n      \"content-typo\",\n    ]\n  }"), LoadOptions{},
			`Invalid metadata field: drop: unknown metadata field "content-typo"`, 10},
		{"empty user metadata name", syncAB("  metadata {\n    drop = [\"x-amz-meta-\"]\n  }"), LoadOptions{}, "Invalid metadata field", 8},
		{"bad tagging value", syncAB("  metadata {\n    set = { \"x-amz-tagging\" = \"a=%zz\" }\n  }"), LoadOptions{}, "Invalid metadata value", 8},
		{"unknown metadata attribute", syncAB("  metadata {\n    add = {}\n  }"), LoadOptions{}, "Unsupported argument", 8},
		{"two metadata blocks", syncAB("  metadata {}\n  metadata {}"), LoadOptions{}, "Duplicate metadata block", 8},
		{"metadata set not a map", syncAB("  metadata {\n    set = [\"a\"]\n  }"), LoadOptions{}, "Incorrect attribute value type", 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := parseIn(t, t.TempDir(), tt.src, tt.opts)
			if cfg != nil {
				t.Errorf("Config is not nil despite errors")
			}
			if !diags.HasErrors() {
				t.Fatalf("no error diagnostics")
			}
			var found *hcl.Diagnostic
			for _, d := range diags {
				if strings.Contains(d.Summary+": "+d.Detail, tt.want) {
					found = d
					break
				}
			}
			if found == nil {
				t.Fatalf("no diagnostic contains %q; got:\n%s", tt.want, diagText(diags))
			}
			if found.Severity != hcl.DiagError || found.Detail == "" {
				t.Errorf("diagnostic severity %v, detail %q", found.Severity, found.Detail)
			}
			switch {
			case tt.line == 0 && found.Subject != nil:
				t.Errorf("unexpected subject %v", found.Subject)
			case tt.line != 0 && found.Subject == nil:
				t.Errorf("no subject")
			case tt.line != 0 && found.Subject.Start.Line != tt.line:
				t.Errorf("subject line %d, want %d (%s)", found.Subject.Start.Line, tt.line, found.Subject)
			}
			if found.Subject != nil && !strings.HasSuffix(found.Subject.Filename, "syncer.hcl") {
				t.Errorf("subject file %q", found.Subject.Filename)
			}
		})
	}
}

// A sync's metadata block decodes into a MetaEdit with lower-case names;
// it does not change the config's hash (a plan does not diff metadata).
func TestSyncMetadata(t *testing.T) {
	const base = `
backend "local" "a" { path = "/srv/a" }
backend "local" "b" { path = "/srv/b" }
sync "s" {
  from = backend.local.a
  to   = backend.local.b
`
	dir := t.TempDir()
	plain := mustParse(t, dir, base+"}\n", LoadOptions{})
	cfg := mustParse(t, dir, base+`  metadata {
    set  = { "Cache-Control" = "public, max-age=86400", "x-amz-meta-owner" = "web" }
    drop = ["x-amz-meta-internal-id"]
  }
}
`, LoadOptions{})
	got := cfg.Syncs[0].Metadata
	want := &backends.MetaEdit{
		Set:  map[string]string{"cache-control": "public, max-age=86400", "x-amz-meta-owner": "web"},
		Drop: []string{"x-amz-meta-internal-id"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Metadata = %+v; want %+v", got, want)
	}
	if plain.Syncs[0].Metadata != nil {
		t.Errorf("no metadata block: Metadata = %+v", plain.Syncs[0].Metadata)
	}
	if cfg.Hash != plain.Hash {
		t.Errorf("metadata changed the config hash")
	}
}

func diagText(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		b.WriteString("  " + d.Error() + "\n")
	}
	return b.String()
}

// An unset variable that nothing references is not an error, and is
// reported once however often it is used.
func TestUnsetVariable(t *testing.T) {
	mustParse(t, t.TempDir(), `variable "unused" {}`, LoadOptions{})
	_, diags := parseIn(t, t.TempDir(), `
variable "r" {}
backend "local" "a" { path = var.r }
backend "local" "b" { path = "${var.r}/b" }
`, LoadOptions{})
	n := 0
	for _, d := range diags {
		if d.Summary == "No value for required variable" {
			n++
		}
	}
	if n != 1 || len(diags) != 1 {
		t.Errorf("got %d unset-variable diagnostics of %d:\n%s", n, len(diags), diagText(diags))
	}
}

func TestNotNested(t *testing.T) {
	mustParse(t, t.TempDir(), `
backend "local" "a" { path = "/srv/a/b" }
backend "local" "b" { path = "/srv/a/bc" }
sync "s" {
  from = backend.local.a
  to   = backend.local.b
}
sync "t" {
  from = backend.local.b
  to   = backend.local.a
}
`, LoadOptions{})
}

func TestParseSize(t *testing.T) {
	good := []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{" 0 ", 0},
		{"0B", 0},
		{"100B", 100},
		{"512MiB", 512 << 20},
		{"512 MiB", 512 << 20},
		{"1.5GiB", 3 << 29},
		{"64Mi", 64 << 20},
		{"1Ki", 1024},
		{"2TiB", 2 << 40},
		{"1Ti", 1 << 40},
		{"10KB", 10000},
		{"10kB", 10000},
		{"3MB", 3e6},
		{"1.5GB", 1.5e9},
		{"7TB", 7e12},
		{"1.1KiB", 1126}, // 1126.4 rounded down
		{"8388607TiB", 8388607 << 40},
	}
	for _, tt := range good {
		got, err := ParseSize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	bad := []struct{ in, want string }{
		{"", "empty"},
		{"   ", "empty"},
		{"512", "bare number"},
		{"1.5", "bare number"},
		{"10K", `"K" alone is ambiguous`},
		{"10M", "ambiguous"},
		{"1G", "ambiguous"},
		{"512mb", "wrong case"},
		{"1gb", "wrong case"},
		{"1mib", "wrong case"},
		{"8b", "bits"},
		{"-1MiB", "negative"},
		{"-0", "negative"},
		{"8388608TiB", "too large"},
		{"99999999999999999999B", "too large"},
		{"1.MiB", "accepted:"},
		{".5MiB", "accepted:"},
		{"1.2.3MiB", "accepted:"},
		{"MiB", "accepted:"},
		{"1e3B", "unknown unit"},
		{"5 PB", "unknown unit"},
		{"50MiB/s", "unknown unit"},
	}
	for _, tt := range bad {
		got, err := ParseSize(tt.in)
		if err == nil {
			t.Errorf("ParseSize(%q) = %d, want error", tt.in, got)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseSize(%q) error %q lacks %q", tt.in, err, tt.want)
		}
	}
}

func TestParseRate(t *testing.T) {
	good := []struct {
		in   string
		want int64
	}{
		{"50MiB/s", 50 << 20},
		{"50 MiB/s", 50 << 20},
		{"1MB /s", 1e6},
		{"0", 0},
		{"0/s", 0},
	}
	for _, tt := range good {
		got, err := ParseRate(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "/s", "50/s", "50M/s", "50MiB/m", "50MiB/s/s", "50mbps", "-1MiB/s", "50MiB", "10MB"} {
		if got, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) = %d, want error", in, got)
		} else if !strings.Contains(err.Error(), "/s") {
			t.Errorf("ParseRate(%q) error %q does not mention /s", in, err)
		}
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name             string
		prefix           string
		include, exclude []string
		key              string
		want             bool
	}{
		{"no rules", "", nil, nil, "a/b/c.txt", true},
		{"prefix match", "photos/", nil, nil, "photos/a.jpg", true},
		{"prefix miss", "photos/", nil, nil, "videos/a.mp4", false},
		{"prefix is a string prefix", "photos/2024-", nil, nil, "photos/2024-01/a.jpg", true},
		{"prefix without slash", "photos", nil, nil, "photos2/a.jpg", true},
		{"include root file", "", []string{"**/*.md"}, nil, "README.md", true},
		{"include deep file", "", []string{"**/*.md"}, nil, "a/b/c/d.md", true},
		{"include miss", "", []string{"**/*.md"}, nil, "a/b/c/d.txt", false},
		{"star does not span folders", "", []string{"*.md"}, nil, "a/b.md", false},
		{"star matches root", "", []string{"*.md"}, nil, "b.md", true},
		{"one of several includes", "", []string{"*.txt", "docs/**"}, nil, "docs/x/y.bin", true},
		{"include matches whole key", "", []string{"docs"}, nil, "docs/a.md", false},
		{"exclude", "", nil, []string{"tmp/**"}, "tmp/a/b", false},
		{"exclude other", "", nil, []string{"tmp/**"}, "keep/tmp/a", true},
		{"exclude wins over include", "", []string{"**/*.md"}, []string{"drafts/**"}, "drafts/x.md", false},
		{"prefix and include", "photos/", []string{"**/*.jpg"}, nil, "photos/2024/a.jpg", true},
		{"prefix then include miss", "photos/", []string{"**/*.jpg"}, nil, "photos/2024/a.png", false},
		{"include with prefix in pattern", "photos/", []string{"photos/*.jpg"}, nil, "photos/a.jpg", true},
		{"spaces", "", []string{"my docs/**/*.pdf"}, nil, "my docs/tax 2024/form a.pdf", true},
		{"unicode", "", []string{"фото/**"}, []string{"**/*.tmp"}, "фото/日本/ä.jpg", true},
		{"unicode excluded", "", []string{"фото/**"}, []string{"**/*.tmp"}, "фото/日本/ä.tmp", false},
		{"question mark is one rune", "", []string{"?.txt"}, nil, "é.txt", true},
		{"braces", "", []string{"**/*.{jpg,png}"}, nil, "a/b.png", true},
		{"leading dot", "", []string{"**/.*"}, nil, "a/.hidden", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Sync{Prefix: tt.prefix, Include: tt.include, Exclude: tt.exclude}
			if got := s.Match(tt.key); got != tt.want {
				t.Errorf("Match(%q) = %v, want %v", tt.key, got, tt.want)
			}
		})
	}
}

func TestWriteDiagnostics(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "syncer.hcl")
	src := `backend "local" "a" { path = "/a" }

sync "bad" {
  from = backend.local.a
  to   = backend.local.nope
}
`
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, diags := Load(path, LoadOptions{LookupEnv: envMap(nil)})
	if cfg != nil || !diags.HasErrors() {
		t.Fatalf("expected errors, got %v", diags)
	}
	check := func(t *testing.T, files map[string]*hcl.File) {
		var buf bytes.Buffer
		if err := WriteDiagnostics(&buf, files, diags); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		for _, want := range []string{
			"Error: Reference to undeclared backend",
			"on " + path + " line 5, in sync \"bad\":",
			"5:   to   = backend.local.nope",
			`There is no backend "local" "nope"`,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "\x1b[") {
			t.Errorf("output has colour codes:\n%s", out)
		}
	}
	// Load returns no Config on error, so the file is read back from disk.
	t.Run("files from disk", func(t *testing.T) { check(t, nil) })
	t.Run("files given", func(t *testing.T) {
		f, _ := hclparse.NewParser().ParseHCL([]byte(src), path)
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		check(t, map[string]*hcl.File{path: f})
	})
}

// Variable values must never appear in printed diagnostics: they may be
// secrets.
func TestDiagnosticsHideValues(t *testing.T) {
	_, diags := parseIn(t, t.TempDir(), `
variable "token" {}
backend "local" "a" { path = upper(var.token, 1) }
`, LoadOptions{Vars: map[string]string{"token": "s3cret"}})
	if !diags.HasErrors() {
		t.Fatal("expected errors")
	}
	var buf bytes.Buffer
	if err := WriteDiagnostics(&buf, nil, diags); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "s3cret") {
		t.Errorf("secret printed:\n%s", buf.String())
	}
}

// A state file inside a folder a sync reads or writes, and two syncs whose
// destinations overlap, are configuration errors; separate prefixes or
// include lists that keep them apart make them fine.
func TestSharedPlaces(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	if err := os.MkdirAll(filepath.Join(real, "dst"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, filepath.Join(dir, "alias")); err != nil {
		t.Fatal(err)
	}
	block := func(name, path string) string {
		return fmt.Sprintf("backend \"local\" %q { path = %q }\n", name, path)
	}
	sync := func(name, from, to string, lines ...string) string {
		return fmt.Sprintf("sync %q {\n  from = backend.local.%s\n  to = backend.local.%s\n%s}\n", name, from, to, strings.Join(append(lines, ""), "\n"))
	}
	for _, c := range []struct {
		name, src, want string
		line            int
	}{
		{"state in source", "state { path = \"real/syncer.db\" }\n" + block("a", "real") + block("b", "/elsewhere") + sync("s", "a", "b"),
			`State file inside a synced folder: Sync "s" copies from backend.local.a (` + real + `), which holds the state file ` + filepath.Join(real, "syncer.db"), 4},
		{"state in destination through a symlink", "state { path = \"alias/dst/syncer.db\" }\n" + block("a", "/elsewhere") + block("b", "real/dst") + sync("s", "a", "b"),
			`State file inside a synced folder: Sync "s" writes to backend.local.b (` + filepath.Join(real, "dst") + `), which holds the state file ` + filepath.Join(dir, "alias/dst/syncer.db"), 4},
		{"state in the destination's prefix", "state { path = \"real/dst/p/syncer.db\" }\n" + block("a", "/elsewhere") + block("b", "real/dst") + sync("s", "a", "b", `  prefix = "p"`),
			"State file inside a synced folder", 4},
		{"state outside the prefix", "state { path = \"real/dst/syncer.db\" }\n" + block("a", "/elsewhere") + block("b", "real/dst") + sync("s", "a", "b", `  prefix = "p/"`), "", 0},
		{"a mirror and another sync into one folder", block("a", "/src1") + block("c", "/src2") + block("b", "/dst") +
			sync("one", "a", "b", `  delete = "all"`) + sync("two", "c", "b"),
			`"one" mirrors (delete = "all") and would delete what the other wrote`, 9},
		{"a mirror of a folder holding another sync's folder", block("a", "/src1") + block("c", "/src2") + block("b", "/dst") + block("d", "/dst/sub") +
			sync("one", "a", "b") + sync("two", "c", "d", `  delete = "all"`),
			`"two" mirrors`, 9},
		{"one folder spelled twice", block("a", "/src1") + block("c", "/src2") + block("b", filepath.Join(dir, "real/dst")) + block("d", filepath.Join(dir, "alias/dst")) +
			sync("one", "a", "b", `  delete = "all"`) + sync("two", "c", "d", `  delete = "all"`),
			"Syncs write to overlapping places", 10},
		{"source and destination one folder through a symlink", block("a", "real/dst") + block("b", "alias/dst") + sync("s", "a", "b"),
			"Sync source and destination are the same", 5},
		{"destination inside the source through a symlink", block("a", "real") + block("b", "alias/dst") + sync("s", "a", "b"),
			"Sync source and destination overlap", 5},
		{"disjoint prefixes", block("a", "/src1") + block("c", "/src2") + block("b", "/dst") +
			sync("one", "a", "b", `  delete = "all"`, `  prefix = "x/"`) + sync("two", "c", "b", `  delete = "all"`, `  prefix = "y/"`), "", 0},
		{"filters", block("a", "/src1") + block("c", "/src2") + block("b", "/dst") +
			sync("one", "a", "b", `  delete = "all"`, `  include = ["*.jpg"]`) + sync("two", "c", "b", `  include = ["*.png"]`), "", 0},
		{"two syncs into one folder, neither mirroring", block("a", "/src1") + block("c", "/src2") + block("b", "/dst") +
			sync("one", "a", "b", `  delete = "managed"`) + sync("two", "c", "b"),
			`Syncs write to overlapping places: Syncs "one" (` + filepath.Join(dir, "syncer.hcl") + `:4, into /dst) and "two" (` + filepath.Join(dir, "syncer.hcl") + `:9, into /dst) may write the same destination paths: all of "one" and all of "two" overlap. Each apply would overwrite the other's copy.`, 9},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, diags := parseIn(t, dir, c.src, LoadOptions{})
			if c.want == "" {
				if diags.HasErrors() {
					t.Fatalf("unexpected errors: %v", diags)
				}
				return
			}
			if len(diags) != 1 || !strings.Contains(diags[0].Summary+": "+diags[0].Detail, c.want) || diags[0].Subject == nil || diags[0].Subject.Start.Line != c.line {
				t.Fatalf("diags = %v; want one at line %d containing %s", diags, c.line, c.want)
			}
		})
	}
}
