package plan

import (
	"context"
	"fmt"
	"strings"

	"syncer/backends"
	"syncer/config"
)

// mergeable reports whether the sync's listings can be merged against the
// state (merge): both sides list in key order, the destination is listed,
// and nothing after the listing looks at a row merge leaves out. Checksum
// comparison fills and reads hashes of every pair, and filters beyond
// names (sizes, ages, files_from) take rows out of src after the listing,
// so those syncs store every row.
func (d *differ) mergeable() bool {
	_, from := d.from.(backends.SortedLister)
	_, to := d.to.(backends.SortedLister)
	if _, pruned := d.from.(backends.FolderPruner); pruned && d.shard.Sharded() {
		return false
	}
	return mergeListings && d.sortedOK && from && to && d.refresh && d.s.Compare != config.CompareChecksum && !d.s.Filters.Active()
}

// mergeListings turns merge on (tests compare plans made both ways).
var mergeListings = true

// stateRow is a state record's fingerprints, as merge compares them.
type stateRow struct {
	key               string
	srcSize, srcMtime int64
	srcEtag           string
	dstSize, dstMtime int64
	dstEtag           string
}

// unchanged reports whether s and t, a key's source and destination rows,
// are the very versions apply recorded in r (sizes, times and version tags
// all equal): in the compare modes merge serves, such a key has no action,
// so its rows need not be stored. Anything else is stored, for the diff to
// decide as it always does.
func unchanged(s, t *listRow, r *stateRow) bool {
	return s.refused == "" && s.archived == "" && t.inscope &&
		s.size == r.srcSize && s.mtime == r.srcMtime && s.etag == r.srcEtag &&
		t.size == r.dstSize && t.mtime == r.dstMtime && t.etag == r.dstEtag
}

// listSide is one side's sorted listing as merge reads it.
type listSide struct {
	name string
	in   chan listBatch
	free chan []listRow
	rows []listRow
	i    int
	done bool
	last string // the key taken last ("" before the first: keys are never empty)
}

// head returns the side's next row without taking it, nil at the end.
func (s *listSide) head() (*listRow, error) {
	for s.i >= len(s.rows) {
		if s.done {
			return nil, nil
		}
		if s.rows != nil {
			select {
			case s.free <- s.rows[:0]:
			default:
			}
		}
		b, ok := <-s.in
		if !ok {
			s.done, s.rows = true, nil
			return nil, nil
		}
		s.rows, s.i = b.rows, 0
	}
	r := &s.rows[s.i]
	if s.last != "" && r.key <= s.last {
		return nil, fmt.Errorf("the %s listing gave %q after %q: %w", s.name, r.key, s.last, backends.ErrUnsorted)
	}
	return r, nil
}

// take moves past the head row.
func (s *listSide) take() {
	s.last = s.rows[s.i].key
	s.i++
}

// merge is the writer of a sorted listing: it walks the two sides' listings
// (each in key order, in[0] the source, in[1] the destination) and the
// state's records of the sync under its prefix, in step, as rclone's march
// walks two listings. A key whose source and destination are unchanged
// since apply recorded them is counted, not stored; every other row goes to
// src or dst as listed, and records neither side lists go to gone. So a
// re-run with few changes stores few rows, and the diff's queries, which
// read only src, dst and gone, plan what they would over all rows. A side
// out of order ends the merge with backends.ErrUnsorted.
func (d *differ) merge(ctx context.Context, w *writer, in [2]chan listBatch, free chan []listRow) error {
	var same int64 // keys left out as unchanged
	rows, err := d.tx.QueryContext(ctx, `SELECT key, src_size, src_mtime, src_etag, dst_size, dst_mtime, dst_etag
		FROM st_objects WHERE sync = ? AND key >= ? ORDER BY key`, d.s.Name, d.s.Prefix)
	if err != nil {
		return fmt.Errorf("read state: %w", err)
	}
	defer rows.Close()
	var rec stateRow
	haveRec := false
	nextRec := func() error {
		haveRec = rows.Next()
		if haveRec {
			if err := rows.Scan(&rec.key, &rec.srcSize, &rec.srcMtime, &rec.srcEtag, &rec.dstSize, &rec.dstMtime, &rec.dstEtag); err != nil {
				return fmt.Errorf("read state: %w", err)
			}
			// Records sort after the prefix's range once they leave it.
			haveRec = strings.HasPrefix(rec.key, d.s.Prefix)
		}
		if !haveRec {
			if err := rows.Err(); err != nil {
				return fmt.Errorf("read state: %w", err)
			}
		}
		return nil
	}
	if err := nextRec(); err != nil {
		return err
	}

	src := &listSide{name: "source", in: in[0], free: free}
	dst := &listSide{name: "destination", in: in[1], free: free}
	to := [3]*inserter{&w.src, &w.dst, &w.gone}
	var out [3][]listRow // rows on their way to each of to
	flush := func(i int, min int) error {
		if len(out[i]) < min || len(out[i]) == 0 {
			return nil
		}
		err := to[i].insert(ctx, out[i])
		out[i] = out[i][:0]
		return err
	}
	add := func(i int, r listRow) error {
		out[i] = append(out[i], r)
		return flush(i, batchRows)
	}
	// gone takes the records before key (all, for ""), which neither side
	// lists.
	goneBefore := func(key string) error {
		for haveRec && (key == "" || rec.key < key) {
			if err := add(2, listRow{key: rec.key}); err != nil {
				return err
			}
			if err := nextRec(); err != nil {
				return err
			}
		}
		return nil
	}
	for {
		s, err := src.head()
		if err != nil {
			return err
		}
		t, err := dst.head()
		if err != nil {
			return err
		}
		if s == nil && t == nil {
			break
		}
		var key string
		switch {
		case t == nil || (s != nil && s.key <= t.key):
			key = s.key
		default:
			key = t.key
		}
		if err := goneBefore(key); err != nil {
			return err
		}
		var r *stateRow
		if haveRec && rec.key == key {
			r = &rec
		}
		inSrc, inDst := s != nil && s.key == key, t != nil && t.key == key
		if inSrc && inDst && r != nil && unchanged(s, t, r) {
			same++
		} else {
			if inSrc {
				if err := add(0, *s); err != nil {
					return err
				}
			}
			if inDst {
				if err := add(1, *t); err != nil {
					return err
				}
			}
		}
		if inSrc {
			src.take()
		}
		if inDst {
			dst.take()
		}
		if r != nil {
			if err := nextRec(); err != nil {
				return err
			}
		}
	}
	if err := goneBefore(""); err != nil {
		return err
	}
	for i := range out {
		if err := flush(i, 0); err != nil {
			return err
		}
	}
	d.unchanged = same
	return nil
}
