// Package sqlitefile holds what state and plan both know about SQLite
// files: how to name one to the go-sqlite3 driver, and how to tell what is
// at a path before SQLite opens it.
package sqlitefile

import (
	"encoding/binary"
	"io"
	"io/fs"
	"net/url"
	"strconv"
	"time"
)

// BusyTimeout is how long a connection waits for another one's lock.
const BusyTimeout = 10 * time.Second

// DSN is the go-sqlite3 data source name that opens the file at path in
// mode ("ro", "rw" or "rwc") with BusyTimeout; params adds driver options,
// such as "_txlock" or "_journal_mode". The same name serves ATTACH, where
// SQLite reads mode and ignores the driver's options.
func DSN(path, mode string, params map[string]string) string {
	u := url.URL{Scheme: "file", OmitHost: true, Path: path}
	q := url.Values{}
	q.Set("mode", mode)
	q.Set("_busy_timeout", strconv.Itoa(int(BusyTimeout/time.Millisecond)))
	for k, v := range params {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Content is what the start of a file says it is.
type Content int

const (
	Empty  Content = iota // no bytes at all
	SQLite                // a SQLite database header
	Other                 // anything else, or unreadable
)

// magic starts every SQLite database file.
const magic = "SQLite format 3\x00"

// appIDAt is the offset of the header's application_id (big-endian).
const appIDAt = 68

// Sniff reads the start of r and says whether it is empty, a SQLite
// database, or something else; for a database it also returns the
// application_id the header holds (0 when unset, or when r is too short to
// hold one: SQLite itself refuses such a file).
func Sniff(r io.Reader) (Content, uint32) {
	head := make([]byte, appIDAt+4)
	n, err := io.ReadFull(r, head)
	switch {
	case n == 0 && err == io.EOF:
		return Empty, 0
	case n < len(magic) || string(head[:len(magic)]) != magic:
		return Other, 0
	case n < len(head):
		return SQLite, 0
	}
	return SQLite, binary.BigEndian.Uint32(head[appIDAt:])
}

// Kind names the type of a file that is not regular, for messages:
// "directory", "symlink", "named pipe", "socket", "character device",
// "block device", or else "mode" and its mode.
func Kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	}
	return "mode " + m.String()
}
