package config

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"syncer/backends"
)

// Filters are a sync's per-object filters beyond prefix, include and
// exclude, as rclone's --min-size, --max-size, --min-age, --max-age and
// --files-from. Bounds are inclusive. An object of unknown size (-1) or
// time (0) passes the size or age bounds.
type Filters struct {
	MinSize int64 // bytes; 0 = no lower bound
	MaxSize int64 // bytes; -1 = no upper bound
	// MinAge keeps objects modified at least this long before the run's
	// start; MaxAge those modified at most this long before it. 0 = unset.
	MinAge, MaxAge time.Duration
	// FilesFrom is the absolute path of a list of keys (relative to the
	// sync's prefix); "" = none. FilesFromSum is the SHA-256 of the file as
	// validated, so that a changed list changes Config.Hash.
	FilesFrom, FilesFromSum string
}

// Active reports whether any filter of f is set.
func (f Filters) Active() bool {
	return f.MinSize > 0 || f.MaxSize >= 0 || f.MinAge > 0 || f.MaxAge > 0 || f.FilesFrom != ""
}

// Backup is a sync's `backup` block: where destination objects go before
// they are overwritten or deleted.
type Backup struct {
	To *Backend
	// Prefix goes before the destination key; RunToken in it stands for
	// the run's ID (RunID).
	Prefix    string
	DeclRange hcl.Range
}

// RunToken is how a backup prefix names the run: "${run}" in HCL.
const RunToken = "${run}"

// RunID formats a run's start as ${run} shows it: UTC, to the second,
// e.g. "20261202T193000Z".
func RunID(start time.Time) string { return start.UTC().Format("20060102T150405Z") }

// KeyFor returns where key's current version goes for the run started at
// start.
func (b *Backup) KeyFor(start time.Time, key string) string {
	return strings.ReplaceAll(b.Prefix, RunToken, RunID(start)) + key
}

type backupBlock struct {
	To       hcl.Expression `hcl:"to"`
	Prefix   hcl.Expression `hcl:"prefix,optional"`
	DefRange hcl.Range      `hcl:",def_range"`
}

// decodeFilters decodes a sync's filters and safety nets (min_size,
// max_size, min_age, max_age, files_from, delete_excluded, immutable,
// backup) and the rules that tie them to its delete policy.
func (d *decoder) decodeFilters(s *Sync, sb *syncBlock, known map[string]*Backend) {
	s.MaxSize = -1
	size := func(expr hcl.Expression, attr string) (int64, bool) {
		v, set, ok := d.optString(expr, attr)
		if !ok || !set {
			return 0, false
		}
		n, err := ParseSize(v)
		if err != nil {
			d.errorf(expr.Range().Ptr(), "Invalid "+attr, "%s.", err)
			return 0, false
		}
		return n, true
	}
	minSet, maxSet := false, false
	if n, ok := size(sb.MinSize, "min_size"); ok {
		s.MinSize, minSet = n, true
	}
	if n, ok := size(sb.MaxSize, "max_size"); ok {
		s.MaxSize, maxSet = n, true
	}
	if minSet && maxSet && s.MinSize > s.MaxSize {
		d.errorf(sb.MinSize.Range().Ptr(), "Inverted size bounds",
			"min_size (%d bytes) is more than max_size (%d bytes): no object could pass both.", s.MinSize, s.MaxSize)
	}
	age := func(expr hcl.Expression, attr string) (time.Duration, bool) {
		v, set, ok := d.optString(expr, attr)
		if !ok || !set {
			return 0, false
		}
		dur, err := ParseAge(v)
		if err != nil {
			d.errorf(expr.Range().Ptr(), "Invalid "+attr, "%s: %s.", attr, err)
			return 0, false
		}
		return dur, true
	}
	minA, okMin := age(sb.MinAge, "min_age")
	maxA, okMax := age(sb.MaxAge, "max_age")
	s.MinAge, s.MaxAge = minA, maxA
	if okMin && okMax && minA > maxA {
		d.errorf(sb.MinAge.Range().Ptr(), "Inverted age bounds",
			"min_age (%s) is more than max_age (%s): no object could be both older than min_age and younger than max_age.", minA, maxA)
	}
	if p, set, ok := d.optString(sb.FilesFrom, "files_from"); ok && set {
		if p == "" {
			d.errorf(sb.FilesFrom.Range().Ptr(), "Invalid files_from", "files_from must name a file.")
		} else {
			abs := d.absPath(p)
			bad := 0 // malformed lines; the first maxBadLines are reported
			sum, err := CheckFilesFrom(abs, s.Prefix, func(line, offset int, msg string) {
				if bad++; bad <= maxBadLines {
					rng := hcl.Range{Filename: abs, Start: hcl.Pos{Line: line, Column: 1, Byte: offset}, End: hcl.Pos{Line: line, Column: 1, Byte: offset}}
					d.errorf(&rng, "Malformed files_from line", "%s", msg)
				}
			})
			if bad > maxBadLines {
				d.errorf(sb.FilesFrom.Range().Ptr(), "Malformed files_from lines",
					"%s has %d more malformed lines after the %d shown.", abs, bad-maxBadLines, maxBadLines)
			}
			if err != nil {
				d.errorf(sb.FilesFrom.Range().Ptr(), "Invalid files_from", "Cannot read the list of keys: %s.", err)
			} else {
				s.FilesFrom, s.FilesFromSum = abs, sum
			}
		}
	}
	if v, ok := d.optBool(sb.DelExcl, "delete_excluded"); ok {
		s.DeleteExcluded = v
		if v && s.Delete == DeleteNone {
			d.errorf(sb.DelExcl.Range().Ptr(), "delete_excluded without deletes",
				`delete_excluded = true deletes what the filters leave out, but this sync never deletes (delete = "none", the default). Set delete = "managed" or "all", or remove delete_excluded.`)
		}
	}
	if v, ok := d.optBool(sb.Immutable, "immutable"); ok {
		s.Immutable = v
		if v && s.Delete != DeleteNone {
			d.errorf(sb.Immutable.Range().Ptr(), "immutable with deletes",
				`immutable = true never overwrites or deletes an object at the destination, but this sync has delete = %q. Use delete = "none" with immutable.`, s.Delete)
		}
	}
	s.Backup = d.decodeBackup(s, sb.Backup, known)
}

// maxBadLines bounds the diagnostics of one files_from list, so that a
// wrong file (a binary, another list format) gives a readable answer.
const maxBadLines = 10

// optBool evaluates an optional bool attribute; ok is false when it is
// absent or invalid.
func (d *decoder) optBool(expr hcl.Expression, attr string) (v, ok bool) {
	val, good := d.eval(expr, cty.Bool, attr)
	if !good || val.IsNull() {
		return false, false
	}
	return val.True(), true
}

// ParseAge parses a non-negative age: a Go duration ("36h", "90m") or a
// whole number of days or weeks ("30d", "2w").
func ParseAge(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	for unit, mult := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if num, ok := strings.CutSuffix(in, unit); ok {
			n, err := strconv.ParseInt(num, 10, 32)
			if err != nil || n < 0 {
				return 0, fmt.Errorf(`%q is not an age; write a Go duration such as "36h" or a whole number of days or weeks such as "30d" or "2w"`, s)
			}
			return time.Duration(n) * mult, nil
		}
	}
	dur, err := time.ParseDuration(in)
	if err != nil {
		return 0, fmt.Errorf(`%q is not an age; write a Go duration such as "36h" or a whole number of days or weeks such as "30d" or "2w"`, s)
	}
	if dur < 0 {
		return 0, fmt.Errorf("%q is negative; an age is 0 or more", s)
	}
	return dur, nil
}

// maxListLine bounds one line of a files_from list (S3 keys are at most
// 1,024 bytes).
const maxListLine = 64 << 10

// FilesFromKeys streams the keys listed in the files_from file at path,
// each with prefix prepended, to fn, in file order: blank lines and lines
// starting with "#" are skipped, spaces and tabs around a key are trimmed.
// A malformed line calls bad with its line number, the byte offset of its
// start and a message, and is skipped. Memory does not grow with the file.
func FilesFromKeys(path, prefix string, fn func(key string) error, bad func(line, offset int, msg string)) (sum string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return "", err
	} else if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file but %s", path, fileKind(fi.Mode()))
	}
	h := sha256.New()
	sc := bufio.NewScanner(io.TeeReader(f, h))
	sc.Buffer(make([]byte, 0, 4096), maxListLine)
	var off, start int
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		adv, tok, err := bufio.ScanLines(data, atEOF)
		if tok != nil {
			start = off
		}
		off += adv
		return adv, tok, err
	})
	line := 0
	for sc.Scan() {
		line++
		k := strings.Trim(sc.Text(), " \t\r")
		if k == "" || strings.HasPrefix(k, "#") {
			continue
		}
		if strings.HasSuffix(k, "/") {
			bad(line, start, fmt.Sprintf("%q ends in \"/\": list keys of objects, not folders.", k))
			continue
		}
		if err := backends.CheckKey(prefix + k); err != nil {
			bad(line, start, fmt.Sprintf("%s (lines hold keys relative to the sync's prefix %q).", err, prefix))
			continue
		}
		if err := fn(prefix + k); err != nil {
			return "", err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			bad(line+1, off, fmt.Sprintf("the line is longer than %d bytes.", maxListLine))
			return "", nil
		}
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// CheckFilesFrom validates a files_from list (see FilesFromKeys) without
// keeping its keys, and returns its SHA-256.
func CheckFilesFrom(path, prefix string, bad func(line, offset int, msg string)) (string, error) {
	return FilesFromKeys(path, prefix, func(string) error { return nil }, bad)
}

// decodeBackup decodes a sync's backup block: to, a backend reference, and
// prefix, in which ${run} names the run. The place must not overlap the
// sync's source or destination.
func (d *decoder) decodeBackup(s *Sync, blocks []*backupBlock, known map[string]*Backend) *Backup {
	if len(blocks) == 0 {
		return nil
	}
	if len(blocks) > 1 {
		d.errorf(blocks[1].DefRange.Ptr(), "Duplicate backup block",
			"A sync has at most one backup block; the first is at %s.", at(blocks[0].DefRange))
		return nil
	}
	bb := blocks[0]
	b := &Backup{DeclRange: bb.DefRange, To: d.backendRef(bb.To, "to", known)}
	if !missing(bb.Prefix) {
		// ${run} is a variable of this attribute alone; it is kept as a
		// token and replaced when apply starts.
		ctx := d.ctx.NewChild()
		ctx.Variables = map[string]cty.Value{"run": cty.StringVal(RunToken)}
		v, ok := d.evalIn(ctx, bb.Prefix, cty.String, "prefix")
		if !ok {
			return nil
		}
		if !v.IsNull() {
			b.Prefix = v.AsString()
		}
		if err := checkPrefix(strings.ReplaceAll(b.Prefix, RunToken, RunID(time.Unix(0, 0)))); err != nil {
			d.errorf(bb.Prefix.Range().Ptr(), "Invalid backup prefix", "prefix %q %s.", b.Prefix, err)
			return nil
		}
	}
	if b.To == nil {
		return nil
	}
	// The static part of the prefix, before ${run}, bounds where backups go.
	static, _, _ := strings.Cut(b.Prefix, RunToken)
	bs, barea, ok := syncArea(b.To, static)
	if !ok {
		return b
	}
	for _, side := range []struct {
		be   *Backend
		what string
	}{{s.From, "source"}, {s.To, "destination"}} {
		space, area, ok := syncArea(side.be, s.Prefix)
		if !ok || space != bs {
			continue
		}
		if strings.HasPrefix(area, barea) || strings.HasPrefix(barea, area) {
			d.errorf(bb.To.Range().Ptr(), "Backup place overlaps the sync",
				"The backup place %s (%s) overlaps the sync's %s %s (%s): backups would be listed, copied or deleted by the sync. Give the backup its own folder or prefix.",
				b.To.Addr(), strings.TrimSuffix(barea, "/"), side.what, side.be.Addr(), strings.TrimSuffix(area, "/"))
			return nil
		}
	}
	return b
}
