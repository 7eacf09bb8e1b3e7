package main

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"

	"syncer/views"
)

// jsonOut switches the command to JSON lines on stdout: the version line
// is written now, diagnostics go there as well.
func (c *cli) jsonOut() *views.JSON {
	if c.view == nil {
		c.view = views.NewJSON(c.stdout, version)
	}
	return c.view
}

// diagnostic writes an error or warning as a JSON diagnostic.
func (c *cli) diagnostic(severity, summary, detail string, r *hcl.Range) {
	if c.view == nil {
		return
	}
	d := &views.Diagnostic{Severity: severity, Summary: summary, Detail: detail}
	if r != nil && r.Filename != "" {
		d.Range = &views.Range{Filename: r.Filename,
			Start: views.Pos{Line: r.Start.Line, Column: r.Start.Column, Byte: r.Start.Byte},
			End:   views.Pos{Line: r.End.Line, Column: r.End.Column, Byte: r.End.Byte}}
	}
	c.view.Write(d)
}

// hclDiagnostics writes a config's diagnostics as JSON and counts them.
func (c *cli) hclDiagnostics(diags hcl.Diagnostics) {
	for _, d := range diags {
		sev := "error"
		if d.Severity == hcl.DiagWarning {
			sev = "warning"
			c.warnings++
		} else {
			c.errors++
		}
		c.diagnostic(sev, d.Summary, d.Detail, d.Subject)
	}
}

// errorf prints an error on stderr and, with -json, as a diagnostic.
func (c *cli) errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintln(c.stderr, "Error: "+msg)
	c.diagnostic("error", msg, "", nil)
}

// warnf prints a warning on stderr and, with -json, as a diagnostic.
func (c *cli) warnf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintln(c.stderr, "Warning: "+msg)
	c.diagnostic("warning", msg, "", nil)
}
