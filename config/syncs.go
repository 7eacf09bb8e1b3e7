package config

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"syncer/backends"
	"syncer/backends/registry"
)

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
		s.Metadata = d.metadata(sb.Metadata)
		d.decodeFilters(s, sb, backends)
	}
}

// metadata decodes a sync's metadata block: set, a map from header name to
// value, and drop, a list of header names. Every name must be one a
// backends.MetaEdit knows; each error points at its name.
func (d *decoder) metadata(blocks []*metadataBlock) *backends.MetaEdit {
	if len(blocks) == 0 {
		return nil
	}
	if len(blocks) > 1 {
		d.errorf(blocks[1].DefRange.Ptr(), "Duplicate metadata block",
			"A sync has at most one metadata block; the first is at %s.", at(blocks[0].DefRange))
		return nil
	}
	mb := blocks[0]
	e := &backends.MetaEdit{}
	checkName := func(name, attr string, rng hcl.Range) bool {
		if err := backends.CheckHeaderName(name); err != nil {
			d.errorf(rng.Ptr(), "Invalid metadata field", "%s: %s.", attr, err)
			return false
		}
		return true
	}
	for _, kv := range d.stringMap(mb.Set, "set") {
		if !checkName(kv.key, "set", kv.rng) {
			continue
		}
		if strings.EqualFold(kv.key, backends.HeaderTagging) {
			if _, err := backends.ParseTagging(kv.value); err != nil {
				d.errorf(kv.rng.Ptr(), "Invalid metadata value", "set: %s: %s.", kv.key, err)
				continue
			}
		}
		if e.Set == nil {
			e.Set = map[string]string{}
		}
		e.Set[strings.ToLower(kv.key)] = kv.value
	}
	elems, _ := d.stringList(mb.Drop, "drop")
	for _, el := range elems {
		if el.null {
			d.errorf(el.rng.Ptr(), "Invalid metadata field", "drop: names must be strings, not null.")
			continue
		}
		if checkName(el.s, "drop", el.rng) {
			e.Drop = append(e.Drop, strings.ToLower(el.s))
		}
	}
	if e.Empty() {
		return nil
	}
	return e
}

// mapElem is one entry of a map attribute and where its key was written.
type mapElem struct {
	key, value string
	rng        hcl.Range
}

// stringMap evaluates an optional map of strings; a literal map's entries
// one at a time, so that each error points at its own line.
func (d *decoder) stringMap(expr hcl.Expression, attr string) []mapElem {
	var out []mapElem
	if obj, isObj := expr.(*hclsyntax.ObjectConsExpr); isObj {
		for _, item := range obj.Items {
			k, kok := d.eval(item.KeyExpr, cty.String, attr)
			v, vok := d.eval(item.ValueExpr, cty.String, attr)
			if !kok || !vok {
				continue
			}
			if k.IsNull() || v.IsNull() {
				d.errorf(item.KeyExpr.Range().Ptr(), "Invalid "+attr+" value", "%s: keys and values must be strings, not null.", attr)
				continue
			}
			if !d.noNUL(v, item.ValueExpr.Range(), attr) {
				continue
			}
			out = append(out, mapElem{k.AsString(), v.AsString(), item.KeyExpr.Range()})
		}
		return out
	}
	v, ok := d.eval(expr, cty.Map(cty.String), attr)
	if !ok || v.IsNull() {
		return nil
	}
	for it := v.ElementIterator(); it.Next(); {
		k, ev := it.Element()
		if ev.IsNull() || !d.noNUL(ev, expr.Range(), attr) {
			d.errorf(expr.Range().Ptr(), "Invalid "+attr+" value", "%s: values must be strings, not null.", attr)
			continue
		}
		out = append(out, mapElem{k.AsString(), ev.AsString(), expr.Range()})
	}
	return out
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
	if _, known := registry.Lookup(typ.Name); !known {
		detail += fmt.Sprintf(" Known backend types: %s.", knownBackendTypes())
	}
	d.errorf(tr.SourceRange().Ptr(), "Reference to undeclared backend", "%s", detail)
	return nil
}

// CheckPrefix validates a key prefix (a sync's, or `syncer ls`'s); the
// error completes "prefix %q ...".
func CheckPrefix(p string) error { return checkPrefix(p) }

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
	elems, _ := d.stringList(expr, attr)
	var out []string
	for _, e := range elems {
		if e.null {
			d.errorf(e.rng.Ptr(), "Invalid glob pattern", "%s patterns must be strings, not null.", attr)
			continue
		}
		p := e.s
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
			d.errorf(e.rng.Ptr(), "Invalid glob pattern", "%s pattern %q: %s. Patterns are doublestar globs matched against the whole key; ** spans folders.", attr, p, problem)
			continue
		}
		out = append(out, p)
	}
	return out
}
