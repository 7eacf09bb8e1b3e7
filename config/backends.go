package config

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"syncer/backends"
	"syncer/backends/registry"
)

func knownBackendTypes() string {
	return `"` + strings.Join(registry.Names(), `", "`) + `"`
}

// place returns where b stores objects (see backends.Options.Place).
func place(b *Backend) (space, path string, ok bool) {
	if b.Options == nil {
		return "", "", false
	}
	space, path = b.Options.Place()
	return space, path, true
}

// decodeOptions fills opts from a backend block's attributes, validates
// them and sets b.Options; every problem becomes a diagnostic at the
// attribute it concerns (at the block when that attribute is absent).
func (d *decoder) decodeOptions(b *Backend, body hcl.Body, opts backends.Options) {
	attrs := opts.Attrs()
	schema := &hcl.BodySchema{}
	for _, a := range attrs {
		schema.Attributes = append(schema.Attributes, hcl.AttributeSchema{Name: a.Name, Required: a.Required})
	}
	content, diags := body.Content(schema)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return
	}
	ok := true
	exprs := map[string]hcl.Expression{}
	for _, a := range attrs {
		if at := content.Attributes[a.Name]; at != nil {
			exprs[a.Name] = at.Expr
			ok = d.setAttr(a, at.Expr) && ok
		}
	}
	if !ok {
		return
	}
	problems := backends.AttrErrors(opts.Validate())
	for _, p := range problems {
		subject := b.DeclRange.Ptr()
		if x := exprs[p.Attr]; x != nil {
			subject = x.Range().Ptr()
		}
		d.errorf(subject, p.Summary, "%s", p.Detail)
	}
	if len(problems) == 0 {
		b.Options = opts
	}
}

// setAttr evaluates one attribute into the field it points at. A null
// value leaves an optional field as it is.
func (d *decoder) setAttr(a backends.Attr, expr hcl.Expression) bool {
	switch a.Kind {
	case backends.AttrString, backends.AttrPath:
		s, set, ok := d.optString(expr, a.Name)
		if ok && !set && a.Required {
			d.errorf(expr.Range().Ptr(), "Invalid "+a.Name+" value", "The argument %q is required and must not be null.", a.Name)
			return false
		}
		if a.Kind == backends.AttrPath && s != "" {
			s = d.absPath(s)
		}
		*a.Ptr.(*string) = s
		return ok
	case backends.AttrBool:
		v, ok := d.eval(expr, cty.Bool, a.Name)
		*a.Ptr.(*bool) = ok && !v.IsNull() && v.True()
		return ok
	case backends.AttrSize:
		s, set, ok := d.optString(expr, a.Name)
		if !ok || !set {
			return ok
		}
		n, err := ParseSize(s)
		if err == nil && n <= 0 {
			err = fmt.Errorf("%s must be more than 0 bytes, such as \"16MiB\"; got %q", a.Name, s)
		}
		if err != nil {
			d.errorf(expr.Range().Ptr(), "Invalid "+a.Name, "%s.", err)
			return false
		}
		*a.Ptr.(*int64) = n
		return true
	case backends.AttrInt:
		n, set, ok := d.optWhole(expr, a.Name, a.Min)
		if set {
			*a.Ptr.(*int) = n
		}
		return ok
	case backends.AttrStringMap:
		// Walked pair by pair: converting a whole object to map(string)
		// unifies its attribute types in quadratic time.
		v, ok := d.eval(expr, cty.DynamicPseudoType, a.Name)
		if !ok || v.IsNull() {
			return ok
		}
		if t := v.Type(); !t.IsMapType() && !t.IsObjectType() {
			d.errorf(expr.Range().Ptr(), "Incorrect attribute value type",
				"Inappropriate value for attribute %q: a map of strings is required, not %s.", a.Name, t.FriendlyName())
			return false
		}
		m := map[string]string{}
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			name := a.Name + "." + k.AsString()
			if e.IsNull() {
				d.errorf(expr.Range().Ptr(), "Invalid "+a.Name, "%s must not be null.", name)
				ok = false
				continue
			}
			sv, err := convert.Convert(e, cty.String)
			if err != nil {
				d.errorf(expr.Range().Ptr(), "Incorrect attribute value type",
					"Inappropriate value for attribute %q: %s: %s.", a.Name, name, err)
				ok = false
				continue
			}
			if !d.noNUL(k, expr.Range(), a.Name) || !d.noNUL(sv, expr.Range(), a.Name) {
				ok = false
				continue
			}
			m[k.AsString()] = sv.AsString()
		}
		*a.Ptr.(*map[string]string) = m
		return ok
	}
	d.errorf(expr.Range().Ptr(), "Unsupported argument", "The argument %q has a kind this build cannot read.", a.Name)
	return false
}

// settings is what Config.Hash records of a backend: every attribute but
// the tuning ones, and of secrets only whether they are set.
func settings(b *Backend) map[string]any {
	if b.Options == nil {
		return nil
	}
	out := map[string]any{}
	for _, a := range b.Options.Attrs() {
		if a.Tuning {
			continue
		}
		v := value(a.Ptr)
		if a.Secret {
			out[a.Name+"_set"] = v != ""
			continue
		}
		out[a.Name] = v
	}
	return out
}

// value dereferences an Attr's Ptr.
func value(ptr any) any {
	switch p := ptr.(type) {
	case *string:
		return *p
	case *bool:
		return *p
	case *int64:
		return *p
	case *int:
		return *p
	case *map[string]string:
		return *p
	}
	return nil
}
