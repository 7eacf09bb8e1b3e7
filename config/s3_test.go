package config

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"syncer/backends/s3"
)

const s3Example = `
backend "s3" "legacy" {
  bucket               = "legacy-media"
  prefix               = "2019"
  region               = "eu-west-1"
  endpoint             = "http://127.0.0.1:7070/"
  force_path_style     = true
  access_key_id        = env("K")
  secret_access_key    = env("S")
  session_token        = ""
  ca_bundle            = "certs/ca.pem"
  role_arn             = "arn:aws:iam::111111111111:role/x"
  external_id          = "ext"
  sts_endpoint         = "http://127.0.0.1:7070/"
  storage_class        = "STANDARD_IA"
  sse                  = "aws:kms"
  sse_kms_key_id       = "alias/k"
  part_size            = "32MiB"
  upload_cutoff        = "64MiB"
  upload_concurrency   = 8
  server_side_copy     = "never"
  insecure_skip_verify = false
  archived             = "restore"
  restore_days         = 7
  restore_tier         = "Bulk"
}

backend "s3" "archive" {
  bucket   = "media-archive"
  profile  = "archive"
}

sync "media" {
  from = backend.s3.legacy
  to   = backend.s3.archive
}
`

var s3Env = map[string]string{"K": "AKIAEXAMPLE", "S": "s3cr3t-value"}

func TestS3Backend(t *testing.T) {
	dir := t.TempDir()
	cfg := mustParse(t, dir, s3Example, LoadOptions{LookupEnv: envMap(s3Env)})
	if len(cfg.Backends) != 2 {
		t.Fatalf("got %d backends", len(cfg.Backends))
	}
	legacy, archive := cfg.Backends[0], cfg.Backends[1]
	if legacy.Addr() != "backend.s3.legacy" || legacy.Type != "s3" {
		t.Errorf("legacy = %+v", legacy)
	}
	want := s3.Options{
		Bucket: "legacy-media", Prefix: "2019/", Region: "eu-west-1", Endpoint: "http://127.0.0.1:7070",
		ForcePathStyle: true, AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: "s3cr3t-value",
		CABundle: filepath.Join(dir, "certs", "ca.pem"), RoleARN: "arn:aws:iam::111111111111:role/x", ExternalID: "ext",
		STSEndpoint:  "http://127.0.0.1:7070",
		StorageClass: "STANDARD_IA", SSE: "aws:kms", SSEKMSKeyID: "alias/k",
		PartSize: 32 << 20, UploadCutoff: 64 << 20, UploadConcurrency: 8, ServerSideCopy: "never",
		Archived: "restore", RestoreDays: 7, RestoreTier: "Bulk",
	}
	if !reflect.DeepEqual(*legacy.Options.(*s3.Options), want) {
		t.Errorf("legacy.S3 =\n%#v\nwant\n%#v", *legacy.Options.(*s3.Options), want) // GoString hides secrets
		t.Errorf("secret equal: %v", legacy.Options.(*s3.Options).SecretAccessKey == want.SecretAccessKey)
	}
	wantArchive := s3.Options{Bucket: "media-archive", Profile: "archive", PartSize: 16 << 20, UploadCutoff: 16 << 20, UploadConcurrency: 4, ServerSideCopy: "auto", Archived: "skip"}
	if !reflect.DeepEqual(*archive.Options.(*s3.Options), wantArchive) {
		t.Errorf("archive.S3 = %+v\nwant %+v", *archive.Options.(*s3.Options), wantArchive)
	}
	if s := cfg.Syncs[0]; s.From != legacy || s.To != archive {
		t.Errorf("sync = %+v", s)
	}

	// An endpoint without a region leaves it to the SDK's chain (then
	// us-east-1, when opened); the part size sets the cutoff's default.
	cfg = mustParse(t, dir, `backend "s3" "x" {
  bucket    = "b"
  endpoint  = "https://s3.example.com"
  part_size = "8MiB"
}`, LoadOptions{})
	if s := cfg.Backends[0].Options.(*s3.Options); s.Region != "" || s.PartSize != 8<<20 || s.UploadCutoff != 8<<20 {
		t.Errorf("defaults with endpoint: %+v (part %d, cutoff %d)", s, s.PartSize, s.UploadCutoff)
	}
}

func TestS3Secrets(t *testing.T) {
	cfg := mustParse(t, t.TempDir(), s3Example, LoadOptions{LookupEnv: envMap(map[string]string{"K": "AKIAEXAMPLE", "S": "s3cr3t-value"})})
	for _, s := range []string{
		fmt.Sprintf("%v", cfg.Backends[0]), fmt.Sprintf("%+v", cfg.Backends[0]), fmt.Sprintf("%#v", cfg.Backends[0].Options.(*s3.Options)),
		fmt.Sprintf("%+v", *cfg.Backends[0].Options.(*s3.Options)), fmt.Sprint(cfg.Backends),
	} {
		if strings.Contains(s, "s3cr3t-value") {
			t.Errorf("secret printed: %s", s)
		}
	}
	// A diagnostic about a secret's expression does not print its value.
	_, diags := parseIn(t, t.TempDir(), `
backend "s3" "x" {
  bucket            = "b"
  secret_access_key = env("S")
}`, LoadOptions{LookupEnv: envMap(s3Env)})
	var buf strings.Builder
	WriteDiagnostics(&buf, nil, diags)
	if !strings.Contains(buf.String(), "Incomplete static credentials") || strings.Contains(buf.String(), "s3cr3t-value") {
		t.Errorf("diagnostics:\n%s", buf.String())
	}
}

// The hash covers every s3 setting but the secrets, of which only whether
// they are set.
func TestS3Hash(t *testing.T) {
	dir := t.TempDir()
	hash := func(src string, env map[string]string) string {
		t.Helper()
		return mustParse(t, dir, src, LoadOptions{LookupEnv: envMap(env)}).Hash
	}
	base := hash(s3Example, s3Env)
	if h := hash(s3Example, map[string]string{"K": "AKIAEXAMPLE", "S": "another-secret"}); h != base {
		t.Error("hash changed with the secret's value")
	}
	if h := hash(s3Example, map[string]string{"K": "AKIAOTHER", "S": "s3cr3t-value"}); h == base {
		t.Error("hash unchanged with another access_key_id")
	}
	if h := hash(strings.Replace(s3Example, `session_token        = ""`, `session_token        = "tok"`, 1), s3Env); h == base {
		t.Error("hash unchanged when session_token became set")
	}
	if a, b := hash(strings.Replace(s3Example, `session_token        = ""`, `session_token        = "tok"`, 1), s3Env),
		hash(strings.Replace(s3Example, `session_token        = ""`, `session_token        = "other"`, 1), s3Env); a != b {
		t.Error("hash changed with the session token's value")
	}
	for _, c := range []struct{ old, new string }{
		{`bucket               = "legacy-media"`, `bucket               = "legacy-media2"`},
		{`prefix               = "2019"`, `prefix               = "2020"`},
		{`region               = "eu-west-1"`, `region               = "eu-west-2"`},
		{`endpoint             = "http://127.0.0.1:7070/"`, `endpoint             = "http://127.0.0.1:7071"`},
		{`force_path_style     = true`, `force_path_style     = false`},
		{`storage_class        = "STANDARD_IA"`, `storage_class        = "GLACIER"`},
		{`part_size            = "32MiB"`, `part_size            = "16MiB"`},
		{`upload_cutoff        = "64MiB"`, `upload_cutoff        = "32MiB"`},
		{`server_side_copy     = "never"`, `server_side_copy     = "auto"`},
		{`role_arn             = "arn:aws:iam::111111111111:role/x"`, `role_arn             = "arn:aws:iam::111111111111:role/y"`},
		{`profile  = "archive"`, `profile  = "other"`},
	} {
		if !strings.Contains(s3Example, c.old) {
			t.Fatalf("example lacks %q", c.old)
		}
		if h := hash(strings.Replace(s3Example, c.old, c.new, 1), s3Env); h == base {
			t.Errorf("hash unchanged for %s -> %s", c.old, c.new)
		}
	}
	// Equivalent spellings hash the same.
	if h := hash(strings.Replace(s3Example, `prefix               = "2019"`, `prefix               = "2019/"`, 1), s3Env); h != base {
		t.Error(`hash differs for prefix "2019" and "2019/"`)
	}
}

func TestS3BadConfigs(t *testing.T) {
	block := func(attrs string) string {
		return "backend \"s3\" \"x\" {\n  bucket = \"b\"\n" + attrs + "\n}\n"
	}
	env := LoadOptions{LookupEnv: envMap(s3Env)}
	tests := []struct {
		name string
		src  string
		want string
		line int
	}{
		{"missing bucket", "backend \"s3\" \"x\" {\n  region = \"us-east-1\"\n}\n", `Missing required argument: The argument "bucket" is required`, 1},
		{"bucket with slash", "backend \"s3\" \"x\" {\n  bucket = \"b/c\"\n}\n", "Invalid bucket", 2},
		{"empty bucket", "backend \"s3\" \"x\" {\n  bucket = \"\"\n}\n", "Invalid bucket", 2},
		{"NUL in bucket", "backend \"s3\" \"x\" {\n  bucket = \"b\\u0000\"\n}\n", `Invalid bucket value: The value of "bucket" must not contain a NUL byte`, 2},
		{"NUL in prefix", block(`  prefix = "a\u0000/"`), "must not contain a NUL byte", 3},
		{"bad sse", block(`  sse = "aes"`), `Invalid sse: sse must be "AES256" or "aws:kms"; got "aes"`, 3},
		{"kms key without kms", block(`  sse_kms_key_id = "k"`), "sse_kms_key_id without KMS", 3},
		{"small part", block(`  part_size = "4MiB"`), "Invalid part_size: part_size must be between 5MiB and 5GiB", 3},
		{"huge part", block(`  part_size = "6GiB"`), "Invalid part_size", 3},
		{"part not a size", block(`  part_size = "16"`), "Invalid part_size", 3},
		{"zero cutoff", block(`  upload_cutoff = "0"`), "Invalid upload_cutoff", 3},
		{"huge cutoff", block(`  upload_cutoff = "6GiB"`), "Invalid upload_cutoff", 3},
		{"zero concurrency", block(`  upload_concurrency = 0`), "upload_concurrency must be a whole number of at least 1", 3},
		{"fractional concurrency", block(`  upload_concurrency = 2.5`), "upload_concurrency must be a whole number", 3},
		{"huge concurrency", block(`  upload_concurrency = 17`), "Invalid upload_concurrency: upload_concurrency must be at most 16", 3},
		{"bad copy mode", block(`  server_side_copy = "sometimes"`), `Invalid server_side_copy: server_side_copy must be "auto", "always" or "never"; got "sometimes"`, 3},
		{"secret without key", block(`  secret_access_key = env("S")`), "Incomplete static credentials: secret_access_key is set but access_key_id is not", 3},
		{"key without secret", block(`  access_key_id = "AKIA"`), "Incomplete static credentials: access_key_id is set but secret_access_key is empty", 3},
		{"token without key", block(`  session_token = "t"`), "Incomplete static credentials: session_token", 3},
		{"profile and keys", block("  profile = \"p\"\n  access_key_id = \"A\"\n  secret_access_key = \"S\""), "Conflicting credentials", 3},
		{"bad endpoint scheme", block(`  endpoint = "ftp://x"`), "Invalid endpoint", 3},
		{"endpoint without scheme", block(`  endpoint = "127.0.0.1:7070"`), "Invalid endpoint", 3},
		{"endpoint with password", block(`  endpoint = "http://u:p@host"`), "must not contain a user name or password", 3},
		{"bad storage class", block(`  storage_class = "standard-ia"`), "Invalid storage_class", 3},
		{"bad role", block(`  role_arn = "role/x"`), "Invalid role_arn", 3},
		{"external id alone", block(`  external_id = "e"`), "external_id without role_arn", 3},
		{"sts endpoint alone", block(`  sts_endpoint = "https://sts.example.com"`), "sts_endpoint without role_arn", 3},
		{"bad sts endpoint", block("  role_arn = \"arn:aws:iam::1:role/r\"\n  sts_endpoint = \"sts.example.com\""), "Invalid sts_endpoint: sts_endpoint must be an http:// or https:// URL", 4},
		{"prefix escapes", block(`  prefix = "a/../b"`), "Invalid prefix", 3},
		{"prefix absolute", block(`  prefix = "/a"`), "Invalid prefix", 3},
		{"prefix double slash", block(`  prefix = "a//"`), "Invalid prefix", 3},
		{"bool type", block(`  force_path_style = "maybe"`), "Incorrect attribute value type", 3},
		{"unknown attribute", block(`  colour = "red"`), `Unsupported argument: An argument named "colour"`, 3},
		{"bad archived", block(`  archived = "thaw"`), `Invalid archived: archived must be "skip", "fail" or "restore"; got "thaw"`, 3},
		{"archived not a string", block(`  archived = true`), `archived`, 3},
		{"restore days without restore", block(`  restore_days = 2`), `restore_days without restore: restore_days is only used with archived = "restore"`, 3},
		{"restore tier without restore", block("  archived = \"fail\"\n  restore_tier = \"Bulk\""), `restore_tier without restore`, 4},
		{"zero restore days", block("  archived = \"restore\"\n  restore_days = 0"), "restore_days must be a whole number of at least 1", 4},
		{"huge restore days", block("  archived = \"restore\"\n  restore_days = 40000"), "Invalid restore_days: restore_days must be between 1 and 30000; got 40000", 4},
		{"bad restore tier", block("  archived = \"restore\"\n  restore_tier = \"bulk\""), `Invalid restore_tier: restore_tier must be "Standard", "Bulk" or "Expedited"; got "bulk"`, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := parseIn(t, t.TempDir(), tc.src, env)
			if !diags.HasErrors() {
				t.Fatalf("no error; want %q", tc.want)
			}
			found := false
			for _, d := range diags {
				text := d.Summary + ": " + d.Detail
				if strings.Contains(text, tc.want) {
					found = true
					if d.Subject == nil || d.Subject.Start.Line != tc.line {
						t.Errorf("diagnostic %q at %v; want line %d", text, d.Subject, tc.line)
					}
				}
			}
			if !found {
				t.Errorf("diagnostics:\n%s\nwant one containing %q", diagText(diags), tc.want)
			}
		})
	}
}

// The nesting check sees endpoint, bucket and prefix.
func TestS3Places(t *testing.T) {
	two := func(a, b string) string {
		return fmt.Sprintf("backend \"s3\" \"a\" {\n%s\n}\nbackend \"s3\" \"b\" {\n%s\n}\nsync \"s\" {\n  from = backend.s3.a\n  to = backend.s3.b\n}\n", a, b)
	}
	ok := []struct{ a, b string }{
		{`bucket = "x"`, `bucket = "y"`},
		{"bucket = \"x\"\nprefix = \"a\"", "bucket = \"x\"\nprefix = \"ab\""},
		{"bucket = \"x\"\nendpoint = \"http://h1\"", "bucket = \"x\"\nendpoint = \"http://h2\""},
		{`bucket = "x"`, "bucket = \"x\"\nendpoint = \"http://h1\""},
	}
	for _, c := range ok {
		mustParse(t, t.TempDir(), two(c.a, c.b), LoadOptions{})
	}
	bad := []struct{ a, b, want string }{
		{`bucket = "x"`, `bucket = "x"`, "same place"},
		{"bucket = \"x\"\nprefix = \"a/\"", "bucket = \"x\"\nprefix = \"a\"", "same place"},
		{`bucket = "x"`, "bucket = \"x\"\nprefix = \"a/\"", "overlap"},
		{"bucket = \"x\"\nprefix = \"a/b\"", "bucket = \"x\"\nprefix = \"a\"", "overlap"},
		{"bucket = \"x\"\nendpoint = \"http://H1/\"", "bucket = \"x\"\nendpoint = \"http://h1\"", "same place"},
	}
	for _, c := range bad {
		_, diags := parseIn(t, t.TempDir(), two(c.a, c.b), LoadOptions{})
		if !diags.HasErrors() || !strings.Contains(diagText(diags), c.want) {
			t.Errorf("%q -> %q: diagnostics %s; want %q", c.a, c.b, diagText(diags), c.want)
		}
	}
}
