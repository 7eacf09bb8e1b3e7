package config

import (
	"fmt"
	"math"
	"math/big"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

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
	cli := d.cliVars()
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
		if c, ok := cli[vb.Name]; ok {
			v.value = c.value
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
	for name := range cli {
		if d.vars[name] == nil {
			extra = append(extra, name)
		}
	}
	slices.Sort(extra)
	for _, name := range extra {
		c := cli[name]
		if c.rng != nil {
			// As Terraform: a shared variables file may set more than one
			// configuration uses.
			d.diags = append(d.diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Value for undeclared variable",
				Detail:   fmt.Sprintf("The variables file sets %q, but the configuration declares no variable %q; the value is ignored.", name, name),
				Subject:  c.rng,
			})
			continue
		}
		d.errorf(nil, "Value for undeclared variable",
			"A value was given for the variable %q (with %s), but the configuration declares no variable %q. Declare it with a variable %q {} block, or remove the -var.", name, c.from, name, name)
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

// listElem is one string of a list attribute and where it was written.
type listElem struct {
	s    string
	null bool
	rng  hcl.Range
}

// stringList evaluates an optional list of strings one element at a time.
// Converting a whole tuple to list(string) costs quadratic time in cty
// (it unifies the element types by sorting them with a quadratic sort),
// so a literal list's elements are evaluated one by one (each error at its
// element), and any other list, tuple or set is walked and converted
// element by element.
func (d *decoder) stringList(expr hcl.Expression, attr string) ([]listElem, bool) {
	if tup, isTup := expr.(*hclsyntax.TupleConsExpr); isTup {
		out := make([]listElem, 0, len(tup.Exprs))
		ok := true
		for _, e := range tup.Exprs {
			v, eok := d.eval(e, cty.String, attr)
			if !eok || !d.noNUL(v, e.Range(), attr) {
				ok = false
				continue
			}
			out = append(out, listElem{s: strOf(v), null: v.IsNull(), rng: e.Range()})
		}
		return out, ok
	}
	v, ok := d.eval(expr, cty.DynamicPseudoType, attr)
	if !ok || v.IsNull() {
		return nil, ok
	}
	if t := v.Type(); !t.IsListType() && !t.IsTupleType() && !t.IsSetType() {
		d.errorf(expr.Range().Ptr(), "Incorrect attribute value type",
			"Inappropriate value for attribute %q: a list of strings is required, not %s.", attr, t.FriendlyName())
		return nil, false
	}
	out := make([]listElem, 0, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		i, ev := it.Element()
		sv, err := convert.Convert(ev, cty.String)
		if err != nil {
			d.errorf(expr.Range().Ptr(), "Incorrect attribute value type",
				"Inappropriate value for attribute %q: element %s: %s.", attr, showValue(i), err)
			ok = false
			continue
		}
		if !d.noNUL(sv, expr.Range(), attr) {
			ok = false
			continue
		}
		out = append(out, listElem{s: strOf(sv), null: sv.IsNull(), rng: expr.Range()})
	}
	return out, ok
}

// strOf returns a string value's string, "" for null.
func strOf(v cty.Value) string {
	if v.IsNull() {
		return ""
	}
	return v.AsString()
}

// noNUL reports a string holding a NUL byte, which no path, key or name
// can hold (the system calls would fail later with "invalid argument").
func (d *decoder) noNUL(v cty.Value, rng hcl.Range, attr string) bool {
	if v.IsNull() || v.Type() != cty.String || !strings.ContainsRune(v.AsString(), 0) {
		return true
	}
	d.errorf(rng.Ptr(), "Invalid "+attr+" value", "The value of %q must not contain a NUL byte.", attr)
	return false
}

// optString evaluates an optional string attribute.
func (d *decoder) optString(expr hcl.Expression, attr string) (s string, set, ok bool) {
	v, ok := d.eval(expr, cty.String, attr)
	if !ok || v.IsNull() {
		return "", false, ok
	}
	if !d.noNUL(v, expr.Range(), attr) {
		return "", false, false
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
