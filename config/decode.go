package config

import (
	"fmt"
	"math"
	"math/big"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
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
	Path     hcl.Expression `hcl:"path,optional"`
	DefRange hcl.Range      `hcl:",def_range"`
}

type limitsBlock struct {
	Workers    hcl.Expression `hcl:"workers,optional"`
	MaxWorkers hcl.Expression `hcl:"max_workers,optional"`
	Memory     hcl.Expression `hcl:"memory,optional"`
	Bandwidth  hcl.Expression `hcl:"bandwidth,optional"`
	MaxDelete  hcl.Expression `hcl:"max_delete,optional"`
	Duration   hcl.Expression `hcl:"duration,optional"`
	RPS        hcl.Expression `hcl:"requests_per_second,optional"`
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
	Name      string         `hcl:"name,label"`
	From      hcl.Expression `hcl:"from"`
	To        hcl.Expression `hcl:"to"`
	Prefix    hcl.Expression `hcl:"prefix,optional"`
	Include   hcl.Expression `hcl:"include,optional"`
	Exclude   hcl.Expression `hcl:"exclude,optional"`
	Delete    hcl.Expression `hcl:"delete,optional"`
	Compare   hcl.Expression `hcl:"compare,optional"`
	DefRange  hcl.Range      `hcl:",def_range"`
	NameRange hcl.Range      `hcl:"name,label_range"`
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
	d.decodeSyncs(cfg, fs.Syncs)
	if !d.diags.HasErrors() {
		d.checkSharedPlaces(cfg)
	}
	return cfg
}

// at formats a range's start as "file:line" for diagnostic details.
func at(r hcl.Range) string { return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line) }

// missing reports whether expr stands for an absent attribute: gohcl gives
// those a null expression with an empty range (the body's start).
func missing(expr hcl.Expression) bool { return expr == nil || expr.Range().Empty() }

// required reports a missing required attribute (gohcl does not for
// hcl.Expression fields) and returns false when it is missing.
func (d *decoder) required(expr hcl.Expression, attr string) bool {
	if !missing(expr) {
		return true
	}
	d.errorf(expr.Range().Ptr(), "Missing required argument",
		"The argument %q is required, but no definition was found.", attr)
	return false
}

func (d *decoder) decodeVariables(blocks []*variableBlock) {
	for _, vb := range blocks {
		if !hclsyntax.ValidIdentifier(vb.Name) {
			d.errorf(vb.DefRange.Ptr(), "Invalid variable name",
				"Variable name %q is not valid: a name starts with a letter or underscore and holds only letters, digits, underscores and dashes.", vb.Name)
			continue
		}
		if prev := d.vars[vb.Name]; prev != nil {
			d.errorf(vb.DefRange.Ptr(), "Duplicate variable",
				"A variable named %q was already declared at %s. Variable names must be unique.", vb.Name, at(prev.decl))
			continue
		}
		v := &variable{decl: vb.DefRange}
		d.vars[vb.Name] = v
		d.evalIn(d.funcCtx, vb.Description, cty.String, "description")
		def, defOK := d.evalIn(d.funcCtx, vb.Default, cty.DynamicPseudoType, "default")
		if s, ok := d.opts.Vars[vb.Name]; ok {
			v.value = cty.StringVal(s)
		} else if s, ok := d.opts.LookupEnv(VarEnvPrefix + vb.Name); ok {
			v.value = cty.StringVal(s)
		} else if !defOK {
			v.value = cty.DynamicVal // already reported; uses of it are skipped
		} else if !def.IsNull() {
			v.value = def
		} else {
			v.unset = true
		}
	}
	var extra []string
	for name := range d.opts.Vars {
		if d.vars[name] == nil {
			extra = append(extra, name)
		}
	}
	slices.Sort(extra)
	for _, name := range extra {
		d.errorf(nil, "Value for undeclared variable",
			"A value was given for the variable %q (with -var), but the configuration declares no variable %q. Declare it with a variable %q {} block, or remove the -var.", name, name, name)
	}

	vals := map[string]cty.Value{}
	for name, v := range d.vars {
		if !v.unset {
			vals[name] = v.value
		}
	}
	d.ctx = &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(vals)},
		Functions: d.funcCtx.Functions,
	}
}

// checkVars reports references in expr to undeclared or unset variables.
// It returns false when expr must not be evaluated.
func (d *decoder) checkVars(expr hcl.Expression) bool {
	ok := true
	for _, tr := range expr.Variables() {
		if tr.RootName() != "var" || len(tr) < 2 {
			continue
		}
		var name string
		switch step := tr[1].(type) {
		case hcl.TraverseAttr:
			name = step.Name
		case hcl.TraverseIndex:
			if step.Key.Type() != cty.String || !step.Key.IsKnown() || step.Key.IsNull() {
				continue
			}
			name = step.Key.AsString()
		default:
			continue
		}
		v := d.vars[name]
		switch {
		case v == nil:
			d.errorf(tr.SourceRange().Ptr(), "Reference to undeclared input variable",
				"There is no variable named %q. Declare it with a variable %q {} block.", name, name)
			ok = false
		case v.unset:
			if !d.reported[name] {
				d.reported[name] = true
				d.errorf(v.decl.Ptr(), "No value for required variable",
					"The variable %q is used at %s but has no value. Set it with -var %s=VALUE or the environment variable %s%s, or give it a default.",
					name, at(tr.SourceRange()), name, VarEnvPrefix, name)
			}
			ok = false
		}
	}
	return ok
}

// eval evaluates expr in the full context and converts it to ty
// (cty.DynamicPseudoType: no conversion). ok is false when the value is
// unusable; a diagnostic has then been recorded (or was, for a value it
// depends on). An absent attribute gives a null value and ok true.
func (d *decoder) eval(expr hcl.Expression, ty cty.Type, attr string) (cty.Value, bool) {
	return d.evalIn(d.ctx, expr, ty, attr)
}

func (d *decoder) evalIn(ctx *hcl.EvalContext, expr hcl.Expression, ty cty.Type, attr string) (cty.Value, bool) {
	if ctx == d.ctx && !d.checkVars(expr) {
		return cty.NilVal, false
	}
	val, diags := expr.Value(ctx)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() || !val.IsWhollyKnown() {
		return cty.NilVal, false
	}
	if val.IsNull() || ty == cty.DynamicPseudoType {
		return val, true
	}
	cv, err := convert.Convert(val, ty)
	if err != nil {
		d.errorf(expr.Range().Ptr(), "Incorrect attribute value type",
			"Inappropriate value for attribute %q: %s.", attr, err)
		return cty.NilVal, false
	}
	return cv, true
}

// optString evaluates an optional string attribute.
func (d *decoder) optString(expr hcl.Expression, attr string) (s string, set, ok bool) {
	v, ok := d.eval(expr, cty.String, attr)
	if !ok || v.IsNull() {
		return "", false, ok
	}
	return v.AsString(), true, true
}

// reqString evaluates a required string attribute.
func (d *decoder) reqString(expr hcl.Expression, attr string) (string, bool) {
	if !d.required(expr, attr) {
		return "", false
	}
	s, set, ok := d.optString(expr, attr)
	if ok && !set {
		d.errorf(expr.Range().Ptr(), "Invalid "+attr+" value", "The argument %q is required and must not be null.", attr)
		return "", false
	}
	return s, ok
}

// wholeNumber returns v as an int when it is a whole number that fits.
func wholeNumber(v cty.Value) (int, bool) {
	if v.Type() != cty.Number || v.IsNull() || !v.IsKnown() {
		return 0, false
	}
	bf := v.AsBigFloat()
	if bf.IsInf() || !bf.IsInt() {
		return 0, false
	}
	n, acc := bf.Int64()
	if acc != big.Exact || n > math.MaxInt || n < math.MinInt {
		return 0, false
	}
	return int(n), true
}

// showValue renders a configuration value for an error message.
func showValue(v cty.Value) string {
	switch {
	case v.IsNull():
		return "null"
	case v.Type() == cty.String:
		return fmt.Sprintf("%q", v.AsString())
	case v.Type() == cty.Number:
		return v.AsBigFloat().Text('g', -1)
	case v.Type() == cty.Bool:
		return fmt.Sprint(v.True())
	}
	return "a " + v.Type().FriendlyName()
}

// optWhole evaluates an optional whole-number attribute of at least min.
func (d *decoder) optWhole(expr hcl.Expression, attr string, min int) (n int, set, ok bool) {
	v, ok := d.eval(expr, cty.Number, attr)
	if !ok || v.IsNull() {
		return 0, false, ok
	}
	n, whole := wholeNumber(v)
	if !whole || n < min {
		d.errorf(expr.Range().Ptr(), "Invalid "+attr+" value",
			"%s must be a whole number of at least %d; got %s.", attr, min, showValue(v))
		return 0, false, false
	}
	return n, true, true
}

// absPath makes a configured path absolute (relative to the config folder)
// and clean.
func (d *decoder) absPath(p string) string {
	if !filepath.IsAbs(p) {
		p = filepath.Join(d.dir, p)
	}
	return filepath.Clean(p)
}

func (d *decoder) decodeState(cfg *Config, blocks []*stateBlock) {
	if len(blocks) == 0 {
		return
	}
	for _, b := range blocks[1:] {
		d.errorf(b.DefRange.Ptr(), "Duplicate state block",
			"Only one state block is allowed. Another was declared at %s.", at(blocks[0].DefRange))
	}
	sb := blocks[0]
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
	if v, ok := d.decodeRequestsPerSecond(lb.RPS); ok {
		l.RequestsPerSecond = v
	}
}

func (d *decoder) decodeBackends(cfg *Config, blocks []*backendBlock) {
	seen := map[string]*Backend{}
	for _, bb := range blocks {
		kind, known := backendKinds[bb.Type]
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
		kind.decode(d, b, bb.Body)
	}
}

func (d *decoder) decodeSyncs(cfg *Config, blocks []*syncBlock) {
	backends := map[string]*Backend{}
	for _, b := range cfg.Backends {
		backends[b.Type+"."+b.Name] = b
	}
	seen := map[string]*Sync{}
	for _, sb := range blocks {
		if !hclsyntax.ValidIdentifier(sb.Name) {
			d.errorf(sb.NameRange.Ptr(), "Invalid sync name",
				"Sync name %q is not valid: a name starts with a letter or underscore and holds only letters, digits, underscores and dashes.", sb.Name)
			continue
		}
		if prev := seen[sb.Name]; prev != nil {
			d.errorf(sb.DefRange.Ptr(), "Duplicate sync",
				"A sync named %q was already declared at %s. Sync names must be unique.", sb.Name, at(prev.DeclRange))
			continue
		}
		s := &Sync{Name: sb.Name, DeclRange: sb.DefRange, Delete: DeleteNone, Compare: CompareModTime}
		seen[sb.Name] = s
		cfg.Syncs = append(cfg.Syncs, s)

		s.From = d.backendRef(sb.From, "from", backends)
		s.To = d.backendRef(sb.To, "to", backends)
		d.checkPlaces(s, sb.To)

		if p, set, ok := d.optString(sb.Prefix, "prefix"); ok && set {
			if err := checkPrefix(p); err != nil {
				d.errorf(sb.Prefix.Range().Ptr(), "Invalid prefix", "prefix %q %s.", p, err)
			} else {
				s.Prefix = p
			}
		}
		s.Include = d.globs(sb.Include, "include")
		s.Exclude = d.globs(sb.Exclude, "exclude")

		if v, set, ok := d.optString(sb.Delete, "delete"); ok && set {
			switch p := DeletePolicy(v); p {
			case DeleteNone, DeleteManaged, DeleteAll:
				s.Delete = p
			default:
				d.errorf(sb.Delete.Range().Ptr(), "Invalid delete policy",
					`delete must be one of "none", "managed" or "all"; got %q.`, v)
			}
		}
		if v, set, ok := d.optString(sb.Compare, "compare"); ok && set {
			switch m := CompareMode(v); m {
			case CompareSize, CompareModTime, CompareChecksum:
				s.Compare = m
			default:
				d.errorf(sb.Compare.Range().Ptr(), "Invalid compare mode",
					`compare must be one of "size", "modtime" or "checksum"; got %q.`, v)
			}
		}
	}
}

// checkSharedPlaces rejects what two syncs, or a sync and the state, do to
// each other in one place: a state file inside a local folder a sync reads
// or writes (the sync would copy or delete it, with its lock and work
// files), and two syncs writing overlapping places when either mirrors
// (delete = "all" deletes what the other wrote, on alternate runs). Syncs
// with include or exclude filters may be disjoint, so they are let be.
func (d *decoder) checkSharedPlaces(cfg *Config) {
	statePath := filepath.ToSlash(realPath(cfg.State.Path))
	for _, s := range cfg.Syncs {
		for _, side := range []struct {
			b    *Backend
			verb string
		}{{s.From, "copies from"}, {s.To, "writes to"}} {
			space, area, ok := syncArea(side.b, s.Prefix)
			if ok && space == "local" && strings.HasPrefix(statePath, area) {
				d.errorf(s.DeclRange.Ptr(), "State file inside a synced folder",
					"Sync %q %s %s (%s), which holds the state file %s: the sync would copy or delete its own state. Keep the state outside the synced folders (state { path = \"...\" }).",
					s.Name, side.verb, side.b.Addr(), strings.TrimSuffix(area, "/"), cfg.State.Path)
			}
		}
	}
	for i, a := range cfg.Syncs {
		for _, b := range cfg.Syncs[i+1:] {
			if a.Delete != DeleteAll && b.Delete != DeleteAll || hasFilters(a) || hasFilters(b) {
				continue
			}
			sa, areaA, ok1 := syncArea(a.To, a.Prefix)
			sb, areaB, ok2 := syncArea(b.To, b.Prefix)
			if !ok1 || !ok2 || sa != sb || !strings.HasPrefix(areaA, areaB) && !strings.HasPrefix(areaB, areaA) {
				continue
			}
			mirror := a
			if a.Delete != DeleteAll {
				mirror = b
			}
			d.errorf(b.DeclRange.Ptr(), "Syncs write to overlapping places",
				"Syncs %q (%s) and %q (%s) write to overlapping places, and %q mirrors (delete = \"all\"): each run would delete what the other wrote. Give them separate folders or prefixes, or use delete = \"managed\", which deletes only what a sync wrote itself.",
				a.Name, strings.TrimSuffix(areaA, "/"), b.Name, strings.TrimSuffix(areaB, "/"), mirror.Name)
		}
	}
}

// syncArea returns the namespace of a sync's side and, within it, the
// string every path the sync touches there starts with: the backend's
// place, a slash, and the sync's prefix.
func syncArea(b *Backend, prefix string) (space, area string, ok bool) {
	if b == nil {
		return "", "", false
	}
	space, p, ok := place(b)
	if !ok {
		return "", "", false
	}
	return space, strings.TrimSuffix(p, "/") + "/" + prefix, true
}

func hasFilters(s *Sync) bool { return len(s.Include) > 0 || len(s.Exclude) > 0 }

// realPath resolves the symlinks of the longest existing ancestor of p, so
// that two spellings of one folder compare equal; the rest is kept as is.
func realPath(p string) string {
	p = filepath.Clean(p)
	rest := ""
	for {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return filepath.Join(p, rest)
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}

// backendRef resolves a from/to attribute, which must be a reference of the
// form backend.TYPE.NAME (not a string).
func (d *decoder) backendRef(expr hcl.Expression, attr string, backends map[string]*Backend) *Backend {
	if !d.required(expr, attr) {
		return nil
	}
	invalid := func() *Backend {
		d.errorf(expr.Range().Ptr(), "Invalid backend reference",
			"%s must refer to a backend as backend.TYPE.NAME, e.g. backend.local.src, without quotes.", attr)
		return nil
	}
	tr, diags := hcl.AbsTraversalForExpr(expr)
	if diags.HasErrors() || tr.RootName() != "backend" || len(tr) != 3 {
		return invalid()
	}
	typ, ok1 := tr[1].(hcl.TraverseAttr)
	name, ok2 := tr[2].(hcl.TraverseAttr)
	if !ok1 || !ok2 {
		return invalid()
	}
	if b := backends[typ.Name+"."+name.Name]; b != nil {
		return b
	}
	detail := fmt.Sprintf("There is no backend %q %q in this configuration.", typ.Name, name.Name)
	if _, known := backendKinds[typ.Name]; !known {
		detail += fmt.Sprintf(" Known backend types: %s.", knownBackendTypes())
	}
	d.errorf(tr.SourceRange().Ptr(), "Reference to undeclared backend", "%s", detail)
	return nil
}

// checkPlaces rejects a sync whose source and destination are the same
// place or nest inside each other.
func (d *decoder) checkPlaces(s *Sync, toExpr hcl.Expression) {
	if s.From == nil || s.To == nil {
		return
	}
	if s.From == s.To {
		d.errorf(toExpr.Range().Ptr(), "Sync source and destination are the same",
			"Sync %q has %s as both from and to. A sync needs two different places.", s.Name, s.From.Addr())
		return
	}
	fs, fp, ok1 := place(s.From)
	ts, tp, ok2 := place(s.To)
	if !ok1 || !ok2 || fs != ts {
		return
	}
	switch {
	case fp == tp:
		d.errorf(toExpr.Range().Ptr(), "Sync source and destination are the same",
			"Sync %q copies from %s to %s, which are the same place (%s).", s.Name, s.From.Addr(), s.To.Addr(), fp)
	case within(fp, tp) || within(tp, fp):
		d.errorf(toExpr.Range().Ptr(), "Sync source and destination overlap",
			"Sync %q copies from %s (%s) to %s (%s); one lies inside the other, so the sync would read its own output.",
			s.Name, s.From.Addr(), fp, s.To.Addr(), tp)
	}
}

// within reports whether slash path child lies strictly inside parent,
// comparing whole segments ("/a/b" is not inside "/a/bc").
func within(parent, child string) bool {
	if parent == child {
		return false
	}
	if !strings.HasSuffix(parent, "/") {
		parent += "/"
	}
	return strings.HasPrefix(child, parent)
}

// checkPrefix validates a key prefix; the error completes "prefix %q ...".
func checkPrefix(p string) error {
	if !utf8.ValidString(p) {
		return fmt.Errorf("is not valid UTF-8")
	}
	if strings.HasPrefix(p, "/") {
		return fmt.Errorf(`must not start with "/": keys are relative to the backend's root`)
	}
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		last := i == len(segs)-1
		switch {
		case seg == "..":
			return fmt.Errorf(`must not contain ".." segments`)
		case seg == "." && !last:
			return fmt.Errorf(`must not contain "." segments`)
		case seg == "" && !last:
			return fmt.Errorf(`must not contain empty segments ("//")`)
		}
	}
	return nil
}

// globs evaluates an optional list of doublestar patterns; nil when absent
// or empty.
func (d *decoder) globs(expr hcl.Expression, attr string) []string {
	v, ok := d.eval(expr, cty.List(cty.String), attr)
	if !ok || v.IsNull() || v.LengthInt() == 0 {
		return nil
	}
	// Point at the element when the list is written literally.
	var elems []hclsyntax.Expression
	if tup, isTup := expr.(*hclsyntax.TupleConsExpr); isTup && len(tup.Exprs) == v.LengthInt() {
		elems = tup.Exprs
	}
	var out []string
	for i, ev := range v.AsValueSlice() {
		rng := expr.Range()
		if elems != nil {
			rng = elems[i].Range()
		}
		if ev.IsNull() {
			d.errorf(rng.Ptr(), "Invalid glob pattern", "%s patterns must be strings, not null.", attr)
			continue
		}
		p := ev.AsString()
		var problem string
		switch {
		case p == "":
			problem = "a pattern must not be empty"
		case strings.HasPrefix(p, "/"):
			problem = `keys never start with "/", so this pattern matches nothing`
		case !doublestar.ValidatePattern(p):
			problem = "the pattern is malformed (check brackets, braces and escapes)"
		}
		if problem != "" {
			d.errorf(rng.Ptr(), "Invalid glob pattern", "%s pattern %q: %s. Patterns are doublestar globs matched against the whole key; ** spans folders.", attr, p, problem)
			continue
		}
		out = append(out, p)
	}
	return out
}
