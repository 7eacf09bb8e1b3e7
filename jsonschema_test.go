package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// report FILE checks that FILE is a run report matching the schema's
// report definition.
func cmdReport(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: report FILE")
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile(ts.Getenv(schemaEnv) + "#/$defs/report")
	ts.Check(err)
	f, err := os.Open(ts.MkAbs(args[0]))
	ts.Check(err)
	defer f.Close()
	v, err := jsonschema.UnmarshalJSON(f)
	ts.Check(err)
	if err := sch.Validate(v); err != nil {
		ts.Fatalf("%s does not match the report schema: %v", args[0], err)
	}
}

// schemaEnv names the JSON Schema the scripts' syncer checks its -json
// output against.
const schemaEnv = "SYNCER_TEST_JSON_SCHEMA"

// compileSchema compiles the schema of syncer's JSON lines at path.
func compileSchema(path string) (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	return c.Compile(path)
}

// runChecked runs syncer; with -json, every line it writes to stdout must
// match the schema named by schemaEnv, else it says so on stderr and exits
// 99 (the scripts then fail).
func runChecked(args []string) int {
	path := os.Getenv(schemaEnv)
	if path == "" || !slices.Contains(args, "-json") {
		return run(args, os.Stdin, os.Stdout, os.Stderr)
	}
	var out bytes.Buffer
	code := run(args, os.Stdin, &out, os.Stderr)
	os.Stdout.Write(out.Bytes())
	if err := checkLines(path, out.Bytes()); err != nil {
		fmt.Fprintf(os.Stderr, "JSON output does not match %s: %v\n", filepath.Base(path), err)
		return 99
	}
	return code
}

// checkLines validates each line of out against the schema at path; the
// first must be the version.
func checkLines(path string, out []byte) error {
	sch, err := compileSchema(path)
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		n++
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(sc.Bytes()))
		if err != nil {
			return fmt.Errorf("line %d %q: %v", n, sc.Text(), err)
		}
		if err := sch.Validate(v); err != nil {
			return fmt.Errorf("line %d %q: %v", n, sc.Text(), err)
		}
		if n == 1 && !strings.HasPrefix(sc.Text(), `{"type":"version",`) {
			return fmt.Errorf("line 1 %q is not the version", sc.Text())
		}
	}
	if n == 0 {
		return fmt.Errorf("no output")
	}
	return sc.Err()
}
