package sqlitefile_test

import (
	"bytes"
	"encoding/binary"
	"io/fs"
	"testing"

	"syncer/sqlitefile"
)

func TestDSN(t *testing.T) {
	got := sqlitefile.DSN("/a b/s?.db", "ro", map[string]string{"_txlock": "immediate"})
	if want := "file:/a%20b/s%3F.db?_busy_timeout=10000&_txlock=immediate&mode=ro"; got != want {
		t.Errorf("DSN = %q, want %q", got, want)
	}
}

func TestSniff(t *testing.T) {
	header := func(appID uint32, size int) []byte {
		b := make([]byte, size)
		copy(b, "SQLite format 3\x00")
		if size >= 72 {
			binary.BigEndian.PutUint32(b[68:], appID)
		}
		return b
	}
	for _, c := range []struct {
		name  string
		data  []byte
		want  sqlitefile.Content
		appID uint32
	}{
		{"empty", nil, sqlitefile.Empty, 0},
		{"text", []byte("state { path = \"x\" }\n"), sqlitefile.Other, 0},
		{"short", []byte("SQLite"), sqlitefile.Other, 0},
		{"header only", header(0, 16), sqlitefile.SQLite, 0},
		{"no application_id", header(0, 4096), sqlitefile.SQLite, 0},
		{"application_id", header(0x53594e43, 4096), sqlitefile.SQLite, 0x53594e43},
	} {
		got, id := sqlitefile.Sniff(bytes.NewReader(c.data))
		if got != c.want || id != c.appID {
			t.Errorf("%s: Sniff = %v, %#x; want %v, %#x", c.name, got, id, c.want, c.appID)
		}
	}
}

func TestKind(t *testing.T) {
	for m, want := range map[fs.FileMode]string{
		fs.ModeDir:                        "directory",
		fs.ModeSymlink:                    "symlink",
		fs.ModeNamedPipe:                  "named pipe",
		fs.ModeSocket:                     "socket",
		fs.ModeDevice | fs.ModeCharDevice: "character device",
		fs.ModeDevice:                     "block device",
		fs.ModeIrregular:                  "mode ?---------",
	} {
		if got := sqlitefile.Kind(m); got != want {
			t.Errorf("Kind(%v) = %q, want %q", m, got, want)
		}
	}
}
