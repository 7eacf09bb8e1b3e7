package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"syncer/config"
)

// actionlint finds the linter that scripts/test-deps.sh installs; in CI a
// missing one fails the test.
func actionlint(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("actionlint"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "actionlint")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("actionlint is missing: scripts/test-deps.sh installs it")
	}
	t.Skip("actionlint is missing: run scripts/test-deps.sh")
	return ""
}

func TestGitHubWorkflowLints(t *testing.T) {
	out, err := exec.Command(actionlint(t), "-no-color", "examples/ci/github-actions.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("actionlint: %v\n%s", err, out)
	}
}

// scripts collects every `run:` (GitHub) and `script:` (GitLab) text of a
// CI file, and the SYNCER_CONFIG it sets.
func scripts(t *testing.T, file string) (text, configFile string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var sb strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				switch s := e.(type) {
				case string:
					if k == "run" {
						sb.WriteString(s + "\n")
					}
					if k == "SYNCER_CONFIG" {
						configFile = s
					}
				case []any:
					if k == "script" || k == "before_script" {
						for _, line := range s {
							if l, ok := line.(string); ok {
								sb.WriteString(l + "\n")
							}
						}
					}
				}
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(doc)
	return sb.String(), configFile
}

// Both CI examples run what the README describes: a time-boxed apply whose
// exit 130 means "continue next time", and a drift check with plan
// -detailed-exitcode, against the example configuration.
func TestCIExamplesRunTheDocumentedCommands(t *testing.T) {
	for _, file := range []string{"examples/ci/github-actions.yml", "examples/ci/gitlab-ci.yml"} {
		t.Run(filepath.Base(file), func(t *testing.T) {
			text, cfg := scripts(t, file)
			for _, want := range []string{
				"bin/syncer apply -auto-approve", "130)", // exit 130 is read as "not finished yet"
				"bin/syncer plan -detailed-exitcode", "2)", // 2 is drift, not an error
				"go build -o bin/syncer .",
			} {
				if !strings.Contains(text, want) {
					t.Errorf("no %q in the steps", want)
				}
			}
			if cfg != "examples/ci/syncer.hcl" {
				t.Errorf("SYNCER_CONFIG = %q, want examples/ci/syncer.hcl", cfg)
			}
			for _, v := range []string{"OPS", "LEGACY", "ARCHIVE"} {
				t.Setenv(v+"_AWS_ACCESS_KEY_ID", "x")
				t.Setenv(v+"_AWS_SECRET_ACCESS_KEY", "x")
			}
			var stdout, stderr strings.Builder
			if code := run([]string{"validate", "-config", cfg}, strings.NewReader(""), &stdout, &stderr); code != 0 {
				t.Fatalf("syncer validate %s: exit %d\n%s", cfg, code, stderr.String())
			}
			if !strings.Contains(stdout.String(), "valid") {
				t.Errorf("validate printed %q", stdout.String())
			}
		})
	}
}

// Every example configuration is valid, with its env() variables set.
func TestExamplesValidate(t *testing.T) {
	files, _ := filepath.Glob("examples/*.hcl")
	more, _ := filepath.Glob("examples/*/*.hcl")
	files = append(files, more...)
	if len(files) < 5 {
		t.Fatalf("examples: %q", files)
	}
	envRef := regexp.MustCompile(`env\("([A-Za-z_][A-Za-z0-9_]*)"`)
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range envRef.FindAllStringSubmatch(string(b), -1) {
				t.Setenv(m[1], "x")
			}
			var stdout, stderr strings.Builder
			if code := run([]string{"validate", "-config", f}, strings.NewReader(""), &stdout, &stderr); code != 0 {
				t.Errorf("syncer validate %s: exit %d\n%s", f, code, stderr.String())
			}
		})
	}
}

// Every example is in canonical style, and formatting is idempotent:
// `syncer fmt -check` passes on them, and formatting twice changes nothing.
func TestExamplesFormatted(t *testing.T) {
	var stdout, stderr strings.Builder
	if code := run([]string{"fmt", "-check", "-recursive", "examples"}, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("syncer fmt -check examples: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	files, _ := filepath.Glob("examples/*.hcl")
	more, _ := filepath.Glob("examples/*/*.hcl")
	for _, f := range append(files, more...) {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		once, diags := config.Format(f, src)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", f, diags.Error())
		}
		twice, _ := config.Format(f, once)
		if string(once) != string(twice) || string(once) != string(src) {
			t.Errorf("%s: formatting is not idempotent or the example is not canonical", f)
		}
	}
}
