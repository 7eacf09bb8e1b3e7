package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/aymanbagabas/go-udiff"
	"github.com/hashicorp/hcl/v2"

	"syncer/config"
)

// exitFmtCheck is fmt -check's answer when a file is not formatted, as
// terraform fmt -check.
const exitFmtCheck = 3

// fmtCmd rewrites configs in canonical HCL style, as `terraform fmt`.
func (c *cli) fmtCmd(args []string) int {
	fs := c.flags("fmt", "[FILE or FOLDER or -]...")
	check := fs.Bool("check", false, "change nothing; exit 3 when a file is not formatted")
	diff := fs.Bool("diff", false, "print the changes as a unified diff")
	list := fs.Bool("list", true, "print the names of the files whose formatting differs")
	write := fs.Bool("write", true, "rewrite the files (-write=false with -check or -diff changes nothing)")
	recursive := fs.Bool("recursive", false, "also format the .hcl files in subfolders")
	if !c.parseFlags(fs, args) {
		return exitError
	}
	files, err := fmtTargets(fs.Args(), *recursive)
	if err != nil {
		fmt.Fprintf(c.stderr, "Error: %v\n", err)
		return exitError
	}
	code := exitOK
	unformatted := false
	for _, name := range files {
		src, err := config.ReadSource(name, c.stdin)
		if err != nil {
			fmt.Fprintf(c.stderr, "Error: %v\n", err)
			code = exitError
			continue
		}
		out, diags := config.Format(name, src)
		if diags.HasErrors() {
			config.WriteDiagnostics(c.stderr, map[string]*hcl.File{}, diags)
			code = exitError
			continue
		}
		if name == "-" {
			if *check && !bytes.Equal(src, out) {
				unformatted = true
			}
			if !*check {
				c.stdout.Write(out)
			} else if *diff {
				fmt.Fprint(c.stdout, udiff.Unified("old/-", "new/-", string(src), string(out)))
			}
			continue
		}
		if bytes.Equal(src, out) {
			continue
		}
		unformatted = true
		if *list {
			fmt.Fprintln(c.stdout, name)
		}
		if *diff {
			fmt.Fprint(c.stdout, udiff.Unified("old/"+name, "new/"+name, string(src), string(out)))
		}
		if *write && !*check {
			if err := config.WriteSource(name, out); err != nil {
				fmt.Fprintf(c.stderr, "Error: write %s: %v\n", name, err)
				code = exitError
			}
		}
	}
	if code == exitOK && *check && unformatted {
		return exitFmtCheck
	}
	return code
}

// fmtTargets expands the arguments: folders into their .hcl files (in
// subfolders too with recursive); none means the current folder.
func fmtTargets(args []string, recursive bool) ([]string, error) {
	if len(args) == 0 {
		args = []string{"."}
	}
	var out []string
	for _, a := range args {
		if a == "-" {
			out = append(out, a)
			continue
		}
		fi, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			out = append(out, a)
			continue
		}
		var found []string
		err = filepath.WalkDir(a, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if p != a && (!recursive || d.Name()[0] == '.') {
					return filepath.SkipDir
				}
				return nil
			}
			if filepath.Ext(p) == ".hcl" && d.Type().IsRegular() {
				found = append(found, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		slices.Sort(found)
		out = append(out, found...)
	}
	return out, nil
}
