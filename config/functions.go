package config

import (
	"fmt"
	"path/filepath"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// functions returns the functions available in expressions. file() paths are
// relative to dir; env() reads through lookup.
func functions(dir string, lookup func(string) (string, bool)) map[string]function.Function {
	return map[string]function.Function{
		"env":       envFunc(lookup),
		"file":      fileFunc(dir),
		"upper":     stdlib.UpperFunc,
		"lower":     stdlib.LowerFunc,
		"trimspace": stdlib.TrimSpaceFunc,
		"join":      stdlib.JoinFunc,
		"format":    stdlib.FormatFunc,
		"coalesce":  stdlib.CoalesceFunc,
	}
}

// envFunc is env(name) or env(name, default). An unset name without a
// default is an error; a set but empty name gives "".
func envFunc(lookup func(string) (string, bool)) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the value of an environment variable, or the default when it is unset.",
		Params:      []function.Parameter{{Name: "name", Type: cty.String}},
		VarParam:    &function.Parameter{Name: "default", Type: cty.String},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if len(args) > 2 {
				return cty.NilVal, function.NewArgErrorf(2, "env takes a name and at most one default")
			}
			name := args[0].AsString()
			if v, ok := lookup(name); ok {
				return cty.StringVal(v), nil
			}
			if len(args) == 2 {
				return args[1], nil
			}
			return cty.NilVal, fmt.Errorf("the environment variable %q is not set; set it, or give a default with env(%q, \"...\")", name, name)
		},
	})
}

// fileFunc is file(path): the contents of a UTF-8 text file, path relative
// to dir.
func fileFunc(dir string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the contents of a text file; relative paths are relative to the config file's folder.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			b, err := readFile(p)
			if err != nil {
				return cty.NilVal, fmt.Errorf("cannot read file: %w", err)
			}
			if !utf8.Valid(b) {
				return cty.NilVal, fmt.Errorf("%s is not valid UTF-8 text", p)
			}
			return cty.StringVal(string(b)), nil
		},
	})
}
