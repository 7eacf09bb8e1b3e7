package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The Kubernetes manifests parse, the Job runs syncer with the config the
// ConfigMap carries, and that config is valid.
func TestKubernetesManifests(t *testing.T) {
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil || len(files) < 4 {
		t.Fatalf("k8s manifests: %v %v", files, err)
	}
	kinds := map[string]map[string]any{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		kind, _ := doc["kind"].(string)
		if kind == "" || doc["apiVersion"] == nil {
			t.Fatalf("%s: no kind or apiVersion", f)
		}
		kinds[kind] = doc
	}
	for _, k := range []string{"ConfigMap", "Secret", "PersistentVolumeClaim", "Job"} {
		if kinds[k] == nil {
			t.Errorf("no %s manifest", k)
		}
	}
	hcl, _ := kinds["ConfigMap"]["data"].(map[string]any)["syncer.hcl"].(string)
	if hcl == "" {
		t.Fatal("the ConfigMap holds no syncer.hcl")
	}
	job, _ := yaml.Marshal(kinds["Job"])
	for _, want := range []string{"/config/syncer.hcl", "apply", "-auto-approve", "syncer-keys", "syncer-state"} {
		if !bytes.Contains(job, []byte(want)) {
			t.Errorf("the Job does not mention %q", want)
		}
	}
	secret, _ := kinds["Secret"]["stringData"].(map[string]any)
	for name := range secret {
		t.Setenv(name, "x")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "syncer.hcl")
	if err := os.WriteFile(cfg, []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"validate", "-config", cfg}, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("syncer validate of the ConfigMap's config: exit %d\n%s", code, stderr.String())
	}
}
