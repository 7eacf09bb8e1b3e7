package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// VarArgKind says what a command-line variable argument is.
type VarArgKind int

const (
	VarArgValue VarArgKind = iota // -var NAME=VALUE
	VarArgFile                    // -var-file FILE
)

// VarArg is one -var or -var-file, kept in command-line order: as in
// Terraform, a later one wins over an earlier one, and all of them win over
// SYNCER_VAR_* and the variables' defaults.
type VarArg struct {
	Kind  VarArgKind
	Value string // NAME=VALUE, or a file's path (relative to the working folder)
}

// cliValue is a variable's value given on the command line, and where.
type cliValue struct {
	value cty.Value
	from  string // "-var" or the var file's name, for messages
	rng   *hcl.Range
}

// cliVars resolves opts.Vars (as -var given first) and opts.VarArgs in
// order; var files' errors are reported at their lines.
func (d *decoder) cliVars() map[string]cliValue {
	out := map[string]cliValue{}
	names := make([]string, 0, len(d.opts.Vars))
	for name := range d.opts.Vars {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		out[name] = cliValue{value: cty.StringVal(d.opts.Vars[name]), from: "-var"}
	}
	for _, a := range d.opts.VarArgs {
		switch a.Kind {
		case VarArgValue:
			name, value, _ := strings.Cut(a.Value, "=")
			out[name] = cliValue{value: cty.StringVal(value), from: "-var"}
		case VarArgFile:
			d.readVarFile(a.Value, out)
		}
	}
	return out
}

// readVarFile reads NAME = VALUE lines, as a Terraform .tfvars file: values
// are constants (strings, numbers, bools, lists, maps), never references.
func (d *decoder) readVarFile(path string, out map[string]cliValue) {
	src, err := readFile(path)
	if err != nil {
		d.errorf(nil, "Failed to read variables file", "-var-file: %v", err)
		return
	}
	if i := slices.Index(src, 0); i >= 0 {
		d.errorf(nil, "Invalid variables file", "-var-file %s holds a NUL byte at offset %d: it is not a text file.", path, i)
		return
	}
	f, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return
	}
	attrs, diags := f.Body.JustAttributes()
	d.diags = append(d.diags, diags...)
	// In file order, so that messages come in the order a reader sees them.
	sorted := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		sorted = append(sorted, a)
	}
	slices.SortFunc(sorted, func(a, b *hcl.Attribute) int { return a.Range.Start.Byte - b.Range.Start.Byte })
	for _, a := range sorted {
		if len(a.Expr.Variables()) > 0 {
			d.errorf(a.Expr.Range().Ptr(), "Variables not allowed",
				"A variables file holds constant values only; %q refers to something else.", a.Name)
			continue
		}
		v, diags := a.Expr.Value(nil)
		if diags.HasErrors() {
			d.diags = append(d.diags, diags...)
			continue
		}
		out[a.Name] = cliValue{value: v, from: fmt.Sprintf("-var-file %s", path), rng: a.NameRange.Ptr()}
	}
}
