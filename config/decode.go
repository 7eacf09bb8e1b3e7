package config

import (
	"fmt"
	"math"
	"path/filepath"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"syncer/backends"
	"syncer/backends/registry"
)

// The file's schema. Attributes are kept as expressions and evaluated by the
// decoder, so that every value error points at its own expression.
type fileSchema struct {
	Variables []*variableBlock `hcl:"variable,block"`
	States    []*stateBlock    `hcl:"state,block"`
	Limits    []*limitsBlock   `hcl:"limits,block"`
	Backends  []*backendBlock  `hcl:"backend,block"`
	Syncs     []*syncBlock     `hcl:"sync,block"`
}

type variableBlock struct {
	Name        string         `hcl:"name,label"`
	Default     hcl.Expression `hcl:"default,optional"`
	Description hcl.Expression `hcl:"description,optional"`
	DefRange    hcl.Range      `hcl:",def_range"`
}

type stateBlock struct {
	Path       hcl.Expression `hcl:"path,optional"`
	Backend    hcl.Expression `hcl:"backend,optional"`
	Key        hcl.Expression `hcl:"key,optional"`
	Checkpoint hcl.Expression `hcl:"checkpoint,optional"`
	LockTTL    hcl.Expression `hcl:"lock_ttl,optional"`
	DefRange   hcl.Range      `hcl:",def_range"`
}

type limitsBlock struct {
	Workers    hcl.Expression `hcl:"workers,optional"`
	MaxWorkers hcl.Expression `hcl:"max_workers,optional"`
	Memory     hcl.Expression `hcl:"memory,optional"`
	Bandwidth  hcl.Expression `hcl:"bandwidth,optional"`
	MaxDelete  hcl.Expression `hcl:"max_delete,optional"`
	Duration   hcl.Expression `hcl:"duration,optional"`
	RPS        hcl.Expression `hcl:"requests_per_second,optional"`
	MaxXfer    hcl.Expression `hcl:"max_transfer,optional"`
	DefRange   hcl.Range      `hcl:",def_range"`
}

// backendBlock keeps its body for the type-specific decoder.
type backendBlock struct {
	Type      string    `hcl:"type,label"`
	Name      string    `hcl:"name,label"`
	Body      hcl.Body  `hcl:",remain"`
	DefRange  hcl.Range `hcl:",def_range"`
	TypeRange hcl.Range `hcl:"type,label_range"`
	NameRange hcl.Range `hcl:"name,label_range"`
}

type syncBlock struct {
	Name      string           `hcl:"name,label"`
	From      hcl.Expression   `hcl:"from"`
	To        hcl.Expression   `hcl:"to"`
	Prefix    hcl.Expression   `hcl:"prefix,optional"`
	Include   hcl.Expression   `hcl:"include,optional"`
	Exclude   hcl.Expression   `hcl:"exclude,optional"`
	Delete    hcl.Expression   `hcl:"delete,optional"`
	Compare   hcl.Expression   `hcl:"compare,optional"`
	Metadata  []*metadataBlock `hcl:"metadata,block"`
	MinSize   hcl.Expression   `hcl:"min_size,optional"`
	MaxSize   hcl.Expression   `hcl:"max_size,optional"`
	MinAge    hcl.Expression   `hcl:"min_age,optional"`
	MaxAge    hcl.Expression   `hcl:"max_age,optional"`
	FilesFrom hcl.Expression   `hcl:"files_from,optional"`
	DelExcl   hcl.Expression   `hcl:"delete_excluded,optional"`
	Immutable hcl.Expression   `hcl:"immutable,optional"`
	Backup    []*backupBlock   `hcl:"backup,block"`
	DefRange  hcl.Range        `hcl:",def_range"`
	NameRange hcl.Range        `hcl:"name,label_range"`
}

type metadataBlock struct {
	Set      hcl.Expression `hcl:"set,optional"`
	Drop     hcl.Expression `hcl:"drop,optional"`
	DefRange hcl.Range      `hcl:",def_range"`
}

type variable struct {
	decl  hcl.Range
	value cty.Value // cty.DynamicVal when its default failed to evaluate
	unset bool      // no -var, no environment, no default
}

// decoder accumulates diagnostics while it decodes one file.
type decoder struct {
	path, dir string
	opts      LoadOptions
	diags     hcl.Diagnostics
	vars      map[string]*variable
	reported  map[string]bool  // unset variables already reported
	funcCtx   *hcl.EvalContext // functions only: variable defaults
	ctx       *hcl.EvalContext // functions and var.*
}

func newDecoder(absPath string, opts LoadOptions) *decoder {
	d := &decoder{
		path:     absPath,
		dir:      filepath.Dir(absPath),
		opts:     opts,
		vars:     map[string]*variable{},
		reported: map[string]bool{},
	}
	d.funcCtx = &hcl.EvalContext{Functions: functions(d.dir, opts.LookupEnv)}
	return d
}

func (d *decoder) errorf(subject *hcl.Range, summary, format string, args ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  subject,
	})
}

func (d *decoder) decode(filename string, src []byte) *Config {
	parser := hclparse.NewParser()
	file, diags := parser.ParseHCL(src, filename)
	d.diags = append(d.diags, diags...)
	cfg := &Config{
		Path:   d.path,
		Dir:    d.dir,
		State:  State{Path: filepath.Join(d.dir, "syncer.db")},
		Limits: Limits{MaxWorkers: 2, MaxDelete: -1},
		Files:  parser.Files(),
	}
	if file == nil || file.Body == nil {
		return cfg
	}
	var fs fileSchema
	d.diags = append(d.diags, gohcl.DecodeBody(file.Body, nil, &fs)...)

	d.decodeVariables(fs.Variables)
	d.decodeState(cfg, fs.States)
	d.decodeLimits(cfg, fs.Limits)
	d.decodeBackends(cfg, fs.Backends)
	d.decodeRemoteState(cfg, fs.States)
	d.decodeSyncs(cfg, fs.Syncs)
	if !d.diags.HasErrors() {
		d.checkSharedPlaces(cfg)
	}
	return cfg
}

// at formats a range's start as "file:line" for diagnostic details.
func at(r hcl.Range) string { return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line) }

func (d *decoder) decodeState(cfg *Config, blocks []*stateBlock) {
	if len(blocks) == 0 {
		return
	}
	for _, b := range blocks[1:] {
		d.errorf(b.DefRange.Ptr(), "Duplicate state block",
			"Only one state block is allowed. Another was declared at %s.", at(blocks[0].DefRange))
	}
	sb := blocks[0]
	if !missing(sb.Backend) {
		if !missing(sb.Path) {
			d.errorf(sb.Path.Range().Ptr(), "Conflicting state settings",
				"The state is either a local file (path) or an object in a backend (backend and key), not both. Remove path, or backend.")
		}
		return // decodeRemoteState, once the backends are known
	}
	for _, a := range []struct {
		expr hcl.Expression
		name string
	}{{sb.Key, "key"}, {sb.Checkpoint, "checkpoint"}, {sb.LockTTL, "lock_ttl"}} {
		if !missing(a.expr) {
			d.errorf(a.expr.Range().Ptr(), "Unexpected state setting",
				"%s is a setting of remote state and needs backend = backend.s3.NAME in the state block.", a.name)
		}
	}
	p, set, ok := d.optString(sb.Path, "path")
	if !ok || !set {
		return
	}
	if p == "" {
		d.errorf(sb.Path.Range().Ptr(), "Invalid state path", "The state path must not be empty.")
		return
	}
	cfg.State.Path = d.absPath(p)
}

// decodeRemoteState decodes the remote form of the state block:
// backend = backend.s3.NAME, key, checkpoint and lock_ttl.
func (d *decoder) decodeRemoteState(cfg *Config, blocks []*stateBlock) {
	if len(blocks) == 0 || missing(blocks[0].Backend) || !missing(blocks[0].Path) {
		return
	}
	sb := blocks[0]
	cfg.State.Path = ""
	known := map[string]*Backend{}
	for _, b := range cfg.Backends {
		known[b.Type+"."+b.Name] = b
	}
	b := d.backendRef(sb.Backend, "backend", known)
	if b != nil && b.Type != "s3" {
		d.errorf(sb.Backend.Range().Ptr(), "Unsupported state backend",
			"The state can live in an s3 backend only (it needs S3's conditional writes); %s is a %s backend.", b.Addr(), b.Type)
		b = nil
	}
	key, ok := d.reqString(sb.Key, "key")
	if ok {
		if err := backends.CheckKey(key); err != nil {
			d.errorf(sb.Key.Range().Ptr(), "Invalid state key", "The state key %q is not a valid object key: %v.", key, err)
			ok = false
		}
	}
	st := &cfg.State
	st.Checkpoint, st.LockTTL = DefaultCheckpoint, DefaultLockTTL
	if v, set, good := d.optString(sb.Checkpoint, "checkpoint"); good && set {
		dur, err := time.ParseDuration(v)
		if err != nil || dur < time.Second {
			d.errorf(sb.Checkpoint.Range().Ptr(), "Invalid checkpoint",
				`checkpoint must be a Go duration of at least 1s, such as "2m"; got %q.`, v)
		} else {
			st.Checkpoint = dur
		}
	}
	if v, set, good := d.optString(sb.LockTTL, "lock_ttl"); good && set {
		dur, err := time.ParseDuration(v)
		if err != nil || dur < MinLockTTL {
			d.errorf(sb.LockTTL.Range().Ptr(), "Invalid lock_ttl",
				`lock_ttl must be a Go duration of at least %s, such as "2m"; got %q.`, MinLockTTL, v)
		} else {
			st.LockTTL = dur
		}
	}
	if b != nil && ok {
		st.Backend, st.Key = b, key
	}
}

func (d *decoder) decodeLimits(cfg *Config, blocks []*limitsBlock) {
	if len(blocks) == 0 {
		return
	}
	for _, b := range blocks[1:] {
		d.errorf(b.DefRange.Ptr(), "Duplicate limits block",
			"Only one limits block is allowed. Another was declared at %s.", at(blocks[0].DefRange))
	}
	lb := blocks[0]
	l := &cfg.Limits

	workersSet := false
	if v, ok := d.eval(lb.Workers, cty.DynamicPseudoType, "workers"); ok && !v.IsNull() {
		if v.Type() == cty.String && v.AsString() == "auto" {
			l.Workers = 0
		} else {
			nv, err := convert.Convert(v, cty.Number)
			n, whole := 0, false
			if err == nil {
				n, whole = wholeNumber(nv)
			}
			if !whole || n < 1 {
				d.errorf(lb.Workers.Range().Ptr(), "Invalid workers value",
					`workers must be "auto" or a whole number of at least 1; got %s.`, showValue(v))
			} else {
				l.Workers, workersSet = n, true
			}
		}
	}
	maxOK := true
	if n, set, ok := d.optWhole(lb.MaxWorkers, "max_workers", 1); !ok {
		maxOK = false
	} else if set {
		l.MaxWorkers = n
	}
	if workersSet && maxOK && l.Workers > l.MaxWorkers {
		d.errorf(lb.Workers.Range().Ptr(), "Invalid workers value",
			"workers = %d is more than max_workers = %d. Lower workers or raise max_workers.", l.Workers, l.MaxWorkers)
	}
	if s, set, ok := d.optString(lb.Memory, "memory"); ok && set {
		if n, err := ParseSize(s); err != nil {
			d.errorf(lb.Memory.Range().Ptr(), "Invalid memory size", "%s.", err)
		} else {
			l.Memory = n
		}
	}
	if s, set, ok := d.optString(lb.Bandwidth, "bandwidth"); ok && set {
		if n, err := ParseRate(s); err != nil {
			d.errorf(lb.Bandwidth.Range().Ptr(), "Invalid bandwidth", "%s.", err)
		} else {
			l.Bandwidth = n
		}
	}
	if n, set, ok := d.optWhole(lb.MaxDelete, "max_delete", 0); ok && set {
		l.MaxDelete = n
	}
	if s, set, ok := d.optString(lb.Duration, "duration"); ok && set {
		dur, err := time.ParseDuration(s)
		if err != nil || dur <= 0 {
			d.errorf(lb.Duration.Range().Ptr(), "Invalid duration",
				`duration must be a positive Go duration such as "50m" or "1h30m"; got %q.`, s)
		} else {
			l.Duration = dur
		}
	}
	if s, set, ok := d.optString(lb.MaxXfer, "max_transfer"); ok && set {
		if n, err := ParseSize(s); err != nil || n <= 0 {
			if err == nil {
				err = fmt.Errorf("max_transfer must be more than 0; got %q", s)
			}
			d.errorf(lb.MaxXfer.Range().Ptr(), "Invalid max_transfer", "%s.", err)
		} else {
			l.MaxTransfer = n
		}
	}
	if v, ok := d.decodeRequestsPerSecond(lb.RPS); ok {
		l.RequestsPerSecond = v
	}
}

func (d *decoder) decodeBackends(cfg *Config, blocks []*backendBlock) {
	seen := map[string]*Backend{}
	for _, bb := range blocks {
		kind, known := registry.Lookup(bb.Type)
		if !known {
			d.errorf(bb.TypeRange.Ptr(), "Unsupported backend type",
				"Backend type %q is not supported. Known types: %s.", bb.Type, knownBackendTypes())
			continue
		}
		if !hclsyntax.ValidIdentifier(bb.Name) {
			d.errorf(bb.NameRange.Ptr(), "Invalid backend name",
				"Backend name %q is not valid: a name starts with a letter or underscore and holds only letters, digits, underscores and dashes.", bb.Name)
			continue
		}
		key := bb.Type + "." + bb.Name
		if prev := seen[key]; prev != nil {
			d.errorf(bb.DefRange.Ptr(), "Duplicate backend",
				"A backend %q %q was already declared at %s. Each type and name pair must be unique.", bb.Type, bb.Name, at(prev.DeclRange))
			continue
		}
		b := &Backend{Type: bb.Type, Name: bb.Name, DeclRange: bb.DefRange}
		seen[key] = b
		cfg.Backends = append(cfg.Backends, b)
		d.decodeOptions(b, bb.Body, kind.New())
	}
}

// decodeRequestsPerSecond evaluates limits.requests_per_second: a
// positive number of API requests per second for each remote backend
// (0 or absent: unlimited). ok is false after a diagnostic.
func (d *decoder) decodeRequestsPerSecond(expr hcl.Expression) (rps float64, ok bool) {
	v, ok := d.eval(expr, cty.Number, "requests_per_second")
	if !ok || v.IsNull() {
		return 0, ok
	}
	f, _ := v.AsBigFloat().Float64()
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e6 {
		d.errorf(expr.Range().Ptr(), "Invalid requests_per_second value",
			"requests_per_second must be a number between 0 (unlimited) and 1000000; got %s.", showValue(v))
		return 0, false
	}
	return f, true
}
