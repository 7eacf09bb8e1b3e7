package config

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// Format returns src in canonical HCL style (as `terraform fmt`). A source
// that does not parse is not formatted: its diagnostics are returned.
func Format(filename string, src []byte) ([]byte, hcl.Diagnostics) {
	if i := bytes.IndexByte(src, 0); i >= 0 {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid configuration file",
			Detail:   fmt.Sprintf("%s holds a NUL byte at offset %d: it is not a text file.", filename, i),
		}}
	}
	if _, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos); diags.HasErrors() {
		return nil, diags
	}
	return hclwrite.Format(src), nil
}

// ReadSource reads a config-sized file as Load does: a regular file of at
// most MaxFileSize bytes, or standard input for "-".
func ReadSource(path string, stdin io.Reader) ([]byte, error) {
	if path == "-" {
		b, err := io.ReadAll(io.LimitReader(stdin, MaxFileSize+1))
		if err == nil && len(b) > MaxFileSize {
			err = fmt.Errorf("standard input is larger than %d bytes (4 MiB), the most syncer reads", MaxFileSize)
		}
		return b, err
	}
	return readFile(path)
}

// WriteSource replaces the file at path with b: written beside it and
// renamed over it, so a crash leaves the old or the new file, never half;
// the file keeps its mode. A symbolic link is followed and stays a link.
func WriteSource(path string, b []byte) error {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	fi, err := os.Stat(real)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(real), "."+filepath.Base(real)+".fmt-*")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(b); err != nil {
		return err
	}
	if err := tmp.Chmod(fi.Mode().Perm()); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), real); err != nil {
		return err
	}
	done = true
	return nil
}
