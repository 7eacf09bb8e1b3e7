package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"syncer/config"
	"syncer/shard"
)

// manifests decodes every k8s/*.yaml strictly into its Kubernetes API
// type: an unknown or misspelt field is an error, as kubectl's server-side
// validation would make it.
type manifests struct {
	jobs       map[string]*batchv1.Job
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
	pvcs       map[string]*corev1.PersistentVolumeClaim
	jobFiles   map[string]string // Job name -> its file
}

func readManifests(t *testing.T) manifests {
	t.Helper()
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("k8s manifests: %v %v", files, err)
	}
	m := manifests{map[string]*batchv1.Job{}, map[string]*corev1.ConfigMap{}, map[string]*corev1.Secret{}, map[string]*corev1.PersistentVolumeClaim{}, map[string]string{}}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(b, &tm); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		strict := func(obj any, name *string) {
			if err := yaml.UnmarshalStrict(b, obj); err != nil {
				t.Fatalf("%s: not a valid %s %s: %v", f, tm.APIVersion, tm.Kind, err)
			}
			if *name == "" {
				t.Fatalf("%s: no metadata.name", f)
			}
		}
		switch tm.APIVersion + " " + tm.Kind {
		case "batch/v1 Job":
			var o batchv1.Job
			strict(&o, &o.Name)
			m.jobs[o.Name] = &o
			m.jobFiles[o.Name] = f
		case "v1 ConfigMap":
			var o corev1.ConfigMap
			strict(&o, &o.Name)
			m.configMaps[o.Name] = &o
		case "v1 Secret":
			var o corev1.Secret
			strict(&o, &o.Name)
			m.secrets[o.Name] = &o
		case "v1 PersistentVolumeClaim":
			var o corev1.PersistentVolumeClaim
			strict(&o, &o.Name)
			m.pvcs[o.Name] = &o
		default:
			t.Fatalf("%s: unexpected %q %q", f, tm.APIVersion, tm.Kind)
		}
	}
	return m
}

// Every Job runs syncer apply with a config from a ConfigMap it mounts,
// the Secret and volumes it names exist, its deadlines and memory agree
// with that config's limits, and the config is valid.
func TestKubernetesManifests(t *testing.T) {
	m := readManifests(t)
	if len(m.jobs) == 0 {
		t.Fatal("no Job manifest")
	}
	for name, job := range m.jobs {
		t.Run(name, func(t *testing.T) {
			checkJob(t, m, job)
		})
	}
}

func checkJob(t *testing.T, m manifests, job *batchv1.Job) {
	pod := job.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if len(c.Args) < 2 || c.Args[0] != "apply" || !slices.Contains(c.Args, "-auto-approve") {
		t.Errorf("args %q: want apply -auto-approve", c.Args)
	}
	if pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %q: the Job, not the kubelet, must retry (podFailurePolicy reads exit codes)", pod.RestartPolicy)
	}

	// Exit 1 fails the Job (retrying will not help), 130 is ignored (a
	// stopped run resumes in the next pod).
	actions := map[int32]batchv1.PodFailurePolicyAction{}
	if p := job.Spec.PodFailurePolicy; p != nil {
		for _, r := range p.Rules {
			if r.OnExitCodes != nil {
				for _, v := range r.OnExitCodes.Values {
					actions[v] = r.Action
				}
			}
		}
	}
	if actions[1] != batchv1.PodFailurePolicyActionFailJob && actions[1] != batchv1.PodFailurePolicyActionFailIndex {
		t.Errorf("exit 1: %q, want FailJob or FailIndex", actions[1])
	}
	if actions[130] != batchv1.PodFailurePolicyActionIgnore {
		t.Errorf("exit 130: %q, want Ignore", actions[130])
	}

	// The config comes from a mounted ConfigMap, named by SYNCER_CONFIG.
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	cfgPath := env["SYNCER_CONFIG"]
	var cm *corev1.ConfigMap
	mounts := map[string]string{} // volume -> mount path
	for _, vm := range c.VolumeMounts {
		mounts[vm.Name] = vm.MountPath
	}
	for _, v := range pod.Volumes {
		switch {
		case v.ConfigMap != nil:
			if m.configMaps[v.ConfigMap.Name] == nil {
				t.Errorf("volume %s: no ConfigMap %q", v.Name, v.ConfigMap.Name)
			} else if strings.HasPrefix(cfgPath, mounts[v.Name]+"/") {
				cm = m.configMaps[v.ConfigMap.Name]
			}
		case v.PersistentVolumeClaim != nil:
			if m.pvcs[v.PersistentVolumeClaim.ClaimName] == nil {
				t.Errorf("volume %s: no PersistentVolumeClaim %q", v.Name, v.PersistentVolumeClaim.ClaimName)
			}
		}
		if _, ok := mounts[v.Name]; !ok {
			t.Errorf("volume %s is not mounted", v.Name)
		}
	}
	if cm == nil {
		t.Fatalf("SYNCER_CONFIG %q is not in a mounted ConfigMap", cfgPath)
	}
	hcl := cm.Data[filepath.Base(cfgPath)]
	if hcl == "" {
		t.Fatalf("ConfigMap %s holds no %s", cm.Name, filepath.Base(cfgPath))
	}

	// The Secret's keys are what the config's env() calls read.
	for _, ef := range c.EnvFrom {
		if ef.SecretRef == nil {
			continue
		}
		s := m.secrets[ef.SecretRef.Name]
		if s == nil {
			t.Fatalf("envFrom: no Secret %q", ef.SecretRef.Name)
		}
		for k := range s.StringData {
			t.Setenv(k, "x")
		}
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "syncer.hcl")
	if err := os.WriteFile(file, []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"validate", "-config", file}, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("syncer validate of ConfigMap %s: exit %d\n%s", cm.Name, code, stderr.String())
	}
	cfg, diags := config.Load(file, config.LoadOptions{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}

	// A local state lives on a persistent volume; a remote one needs none.
	if !cfg.State.Remote() {
		onPVC := false
		for _, v := range pod.Volumes {
			if v.PersistentVolumeClaim != nil && strings.HasPrefix(cfg.State.Path, mounts[v.Name]+"/") {
				onPVC = true
			}
		}
		if !onPVC {
			t.Errorf("the state %s is not on a mounted PersistentVolumeClaim: each pod would start from nothing", cfg.State.Path)
		}
	}

	// -grace ends before the kubelet's SIGKILL.
	grace := 25 * time.Second
	if i := slices.Index(c.Args, "-grace"); i >= 0 && i+1 < len(c.Args) {
		d, err := time.ParseDuration(c.Args[i+1])
		if err != nil {
			t.Fatalf("-grace %q: %v", c.Args[i+1], err)
		}
		grace = d
	}
	if p := pod.TerminationGracePeriodSeconds; p == nil || time.Duration(*p)*time.Second <= grace {
		t.Errorf("terminationGracePeriodSeconds %v is not above -grace %s", p, grace)
	}
	// limits.duration plus grace ends before the Job's deadline.
	if d := job.Spec.ActiveDeadlineSeconds; d != nil {
		if cfg.Limits.Duration == 0 || cfg.Limits.Duration+grace >= time.Duration(*d)*time.Second {
			t.Errorf("limits.duration %s + grace %s does not end before activeDeadlineSeconds %d", cfg.Limits.Duration, grace, *d)
		}
	}
	// The Go memory limit sits under the container's.
	lim, ok := c.Resources.Limits[corev1.ResourceMemory]
	if !ok {
		t.Fatal("no memory limit")
	}
	if cfg.Limits.Memory > 0 && cfg.Limits.Memory >= lim.Value() {
		t.Errorf("limits.memory %d is not under the container's %s", cfg.Limits.Memory, lim.String())
	}
	if req, ok := c.Resources.Requests[corev1.ResourceMemory]; ok && req.Cmp(lim) > 0 {
		t.Errorf("memory request %s above the limit %s", req.String(), lim.String())
	}
}

// A misspelt field is caught: the strict decoding is not a no-op.
func TestKubernetesStrictDecoding(t *testing.T) {
	var job batchv1.Job
	err := yaml.UnmarshalStrict([]byte("apiVersion: batch/v1\nkind: Job\nmetadata: {name: x}\nspec:\n  backofLimit: 3\n"), &job)
	if err == nil || !strings.Contains(err.Error(), "backofLimit") {
		t.Errorf("a misspelt field: %v", err)
	}
}

// An Indexed Job runs one shard per index: -shard $(JOB_COMPLETION_INDEX)/N
// with N its completions, all at once, on remote state; an index that
// fails with exit 1 fails alone, 130 is ignored; and
// scripts/indexed-job-local.sh runs exactly these args per index.
func TestKubernetesIndexedJob(t *testing.T) {
	m := readManifests(t)
	n := 0
	for name, job := range m.jobs {
		if job.Spec.CompletionMode == nil || *job.Spec.CompletionMode != batchv1.IndexedCompletion {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			s := job.Spec
			if s.Completions == nil || s.Parallelism == nil || *s.Completions != *s.Parallelism {
				t.Fatalf("completions %v, parallelism %v: want both N, so that every shard runs at once", s.Completions, s.Parallelism)
			}
			shards := int(*s.Completions)
			c := s.Template.Spec.Containers[0]
			i := slices.Index(c.Args, "-shard")
			if i < 0 || i+1 >= len(c.Args) || c.Args[i+1] != fmt.Sprintf("$(JOB_COMPLETION_INDEX)/%d", shards) {
				t.Errorf("args %q: want -shard $(JOB_COMPLETION_INDEX)/%d", c.Args, shards)
			}
			for _, e := range c.Env {
				if e.Name == shard.EnvVar {
					t.Errorf("env %s is set: the args' -shard must be the only shard setting", e.Name)
				}
			}
			if s.BackoffLimitPerIndex == nil || *s.BackoffLimitPerIndex < 1 {
				t.Errorf("backoffLimitPerIndex %v: each index must retry on its own", s.BackoffLimitPerIndex)
			}
			if s.BackoffLimit != nil {
				t.Errorf("backoffLimit %d with backoffLimitPerIndex: leave it unset", *s.BackoffLimit)
			}
			actions := map[int32]batchv1.PodFailurePolicyAction{}
			for _, r := range s.PodFailurePolicy.Rules {
				if r.OnExitCodes != nil {
					for _, v := range r.OnExitCodes.Values {
						actions[v] = r.Action
					}
				}
			}
			if actions[1] != batchv1.PodFailurePolicyActionFailIndex {
				t.Errorf("exit 1: %q, want FailIndex (one shard's error must not stop the others)", actions[1])
			}
			for _, v := range s.Template.Spec.Volumes {
				if v.PersistentVolumeClaim != nil {
					t.Errorf("volume %s: a PersistentVolumeClaim; shards keep their state remote", v.Name)
				}
			}
			// The state is remote (checked by config below), so each shard's
			// state and lock is an object of its own.
			var hcl string
			for _, v := range s.Template.Spec.Volumes {
				if v.ConfigMap != nil && m.configMaps[v.ConfigMap.Name] != nil {
					hcl = m.configMaps[v.ConfigMap.Name].Data["syncer.hcl"]
				}
			}
			for _, ef := range c.EnvFrom {
				if ef.SecretRef != nil && m.secrets[ef.SecretRef.Name] != nil {
					for k := range m.secrets[ef.SecretRef.Name].StringData {
						t.Setenv(k, "x")
					}
				}
			}
			file := filepath.Join(t.TempDir(), "syncer.hcl")
			if err := os.WriteFile(file, []byte(hcl), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, diags := config.Load(file, config.LoadOptions{})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if !cfg.State.Remote() {
				t.Errorf("the state is the local file %s: shards need remote state", cfg.State.Path)
			}

			// The local runner expands the same args.
			out, err := exec.Command("bash", "scripts/indexed-job-local.sh", "-n", m.jobFiles[name], t.TempDir()).CombinedOutput()
			if err != nil {
				t.Fatalf("indexed-job-local.sh -n: %v\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
			if len(lines) != shards {
				t.Fatalf("indexed-job-local.sh -n printed %d commands, want %d:\n%s", len(lines), shards, out)
			}
			for idx, line := range lines {
				var want []string
				for _, a := range c.Args {
					want = append(want, strings.ReplaceAll(a, "$(JOB_COMPLETION_INDEX)", strconv.Itoa(idx)))
				}
				if got := strings.Join(strings.Split(line, "\t")[2:], " "); got != strings.Join(want, " ") {
					t.Errorf("index %d: the script runs %q, the manifest says %q", idx, got, strings.Join(want, " "))
				}
			}
		})
	}
	if n == 0 {
		t.Fatal("no Indexed Job manifest")
	}
}
