package e2e

import (
	"bufio"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var (
	schemaOnce sync.Once
	schema     *jsonschema.Schema
	schemaErr  error
)

// checkJSONLines fails t unless every line of a -json command's stdout
// matches docs/json-output.schema.json, the first being the version.
func checkJSONLines(t *testing.T, args []string, stdout string) {
	t.Helper()
	schemaOnce.Do(func() {
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		schema, schemaErr = c.Compile("../docs/json-output.schema.json")
	})
	if schemaErr != nil {
		t.Fatal(schemaErr)
	}
	sc := bufio.NewScanner(strings.NewReader(stdout))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(sc.Text()))
		if err == nil {
			err = schema.Validate(v)
		}
		if err == nil && n == 1 && !strings.HasPrefix(sc.Text(), `{"type":"version",`) {
			err = errNotVersion
		}
		if err != nil {
			t.Errorf("syncer %s: line %d %q does not match the JSON schema: %v", strings.Join(args, " "), n, sc.Text(), err)
		}
	}
}

type schemaError string

func (e schemaError) Error() string { return string(e) }

const errNotVersion = schemaError("the first line is not the version")
