package plan

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"syncer/backends"
	"syncer/sqlitefile"
)

// listRow is one listed object on its way into a listing table.
type listRow struct {
	key         string
	size, mtime int64
	etag, md5   string
	inscope     bool
	refused     string // source rows: why the destination cannot hold the key
	archived    string // source rows: backends.Object.Archived
	restoring   bool   // source rows: backends.Object.Restoring
	id          string // source rows: backends.Object.ID
}

type listBatch struct {
	dst  bool
	rows []listRow
}

const (
	batchRows = 512 // rows per batch handed from a lister to the writer
	multiRows = 64  // rows per INSERT statement
)

// listProgressEvery is how often a long listing logs how far it got, as
// Terraform's "Still refreshing..." does.
var listProgressEvery = 10 * time.Second

// listBoth lists the source (and, with refresh, the destination) into the
// tables src and dst: merged against the state where both sides can list in
// key order (see merge), else as they come. A sorted listing that cannot
// stay sorted is given up and listed again as it comes.
func (d *differ) listBoth(ctx context.Context) error {
	merge := d.mergeable()
	if err := d.createListings(ctx, merge); err != nil {
		return err
	}
	if merge {
		err := d.listAll(ctx, true)
		if !errors.Is(err, backends.ErrUnsorted) {
			if d.merged = err == nil; d.merged {
				d.log.Debug("listings merged with the state", "sync", d.s.Name, "unchanged", d.unchanged)
			}
			return err
		}
		d.log.Debug("listing again, unsorted", "sync", d.s.Name, "reason", err.Error())
		if _, err := d.tx.ExecContext(ctx, `DELETE FROM gone`); err != nil {
			return fmt.Errorf("plan tables: %w", err)
		}
		if err := d.createListings(ctx, false); err != nil {
			return err
		}
		d.excluded.Store(0)
		d.refused.Store(0)
	}
	return d.listAll(ctx, false)
}

// listAll lists both sides at the same time, while one writer inserts their
// rows: listing is system calls or network waits, inserting is CPU, so the
// two overlap. Memory is a few batches, whatever the number of objects.
// sorted lists each side in key order into its own channel, for merge.
func (d *differ) listAll(ctx context.Context, sorted bool) error {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(lctx)
	var out [2]chan listBatch // source, destination
	out[0] = make(chan listBatch, 4)
	out[1] = out[0]
	if sorted {
		out[1] = make(chan listBatch, 4)
	}
	free := make(chan []listRow, 8)
	refuser, _ := d.to.(backends.KeyRefuser)
	// A shard keeps its own keys, on both sides. From a source that lists
	// folder by folder against a quota (Drive), keys are split by
	// top-level folder, and a side that can skips the other shards'
	// folders.
	inShard, keep := d.shard.Contains, func(string) bool { return true }
	if _, ok := d.from.(backends.FolderPruner); ok && d.shard.Sharded() {
		dir := d.s.Prefix[:strings.LastIndex(d.s.Prefix, "/")+1]
		inShard, keep = func(k string) bool { return d.shard.ContainsFolder(k, dir) }, d.shard.Contains
		d.log.Info("shard split by top-level folder: listing this shard's folders only", "sync", d.s.Name, "shard", d.shard.String())
	}
	lister := func(b backends.Backend, dst bool, what string) func() error {
		return func() error {
			batches := out[0]
			if dst {
				batches = out[1]
			}
			if sorted {
				// merge reads each side until it ends, whichever way.
				defer close(batches)
			}
			if rc, ok := b.(backends.RootChecker); ok && !dst {
				if err := rc.CheckRoot(gctx, d.s.Prefix); err != nil {
					return fmt.Errorf("source %w", err)
				}
			}
			start := time.Now()
			lastLog := start
			var n int64
			rows := make([]listRow, 0, batchRows)
			send := func() error {
				select {
				case batches <- listBatch{dst: dst, rows: rows}:
				case <-gctx.Done():
					return gctx.Err()
				}
				select {
				case rows = <-free:
				default:
					rows = make([]listRow, 0, batchRows)
				}
				return nil
			}
			list := b.List
			if sorted {
				list = b.(backends.SortedLister).ListSorted
			} else if fp, ok := b.(backends.FolderPruner); ok && d.shard.Sharded() {
				list = func(ctx context.Context, prefix string, fn func(backends.Object) error) error {
					return fp.ListPruned(ctx, prefix, keep, fn)
				}
			}
			err := list(gctx, d.s.Prefix, func(o backends.Object) error {
				if err := backends.CheckKey(o.Key); err != nil {
					return fmt.Errorf("%s listed %w", b, err)
				}
				if !inShard(o.Key) {
					return nil // another shard's key, on either side
				}
				in := d.s.Match(o.Key)
				if !in && !dst {
					d.excluded.Add(1)
					return nil
				}
				r := listRow{key: o.Key, size: o.Size, etag: o.ETag, md5: o.Hash(backends.MD5), inscope: in}
				if !dst {
					r.archived, r.restoring, r.id = o.Archived, o.Restoring, o.ID
				}
				if refuser != nil && !dst {
					if err := backends.RefuseObject(refuser, o); err != nil {
						r.refused = fmt.Sprintf("cannot be written to %s: %v", d.to, err)
						d.refused.Add(1)
					}
				}
				if !o.ModTime.IsZero() {
					r.mtime = o.ModTime.UnixNano()
				}
				rows = append(rows, r)
				n++
				if len(rows) == batchRows {
					if now := time.Now(); now.Sub(lastLog) >= listProgressEvery {
						lastLog = now
						d.log.Info("still listing "+what, "sync", d.s.Name, "backend", b.String(), "objects", n,
							"elapsed", now.Sub(start).Round(time.Second))
					}
					return send()
				}
				return nil
			})
			if err == nil && len(rows) > 0 {
				err = send()
			}
			if err != nil {
				return err // backends name themselves in their errors
			}
			if d.listed != nil {
				d.listed(d.s.Name, what, n)
			}
			d.log.Info("listed "+what, "sync", d.s.Name, "backend", b.String(), "objects", n,
				"elapsed", time.Since(start).Round(time.Millisecond))
			return nil
		}
	}
	g.Go(lister(d.from, false, "source"))
	if d.refresh {
		g.Go(lister(d.to, true, "destination"))
	}
	listErr := make(chan error, 1)
	go func() {
		listErr <- g.Wait()
		if !sorted {
			close(out[0])
		}
	}()

	w, err := d.newWriter(ctx)
	if err != nil {
		cancel()
		drain(out, sorted)
		<-listErr
		return err
	}
	defer w.close()
	var werr error
	if sorted {
		werr = d.merge(ctx, w, out, free)
	} else {
		for b := range out[0] {
			if werr = w.insert(ctx, b); werr != nil {
				break
			}
			select {
			case free <- b.rows[:0]:
			default:
			}
		}
	}
	if werr != nil {
		// Stop the listers; drain so they can exit.
		cancel()
		drain(out, sorted)
		<-listErr
		return werr
	}
	return <-listErr
}

// drain empties the listing channels until the listers close them.
func drain(out [2]chan listBatch, sorted bool) {
	go func() {
		for range out[0] {
		}
	}()
	if sorted {
		go func() {
			for range out[1] {
			}
		}()
	}
}

// writer inserts listing rows, several per statement: each statement is a
// cgo call, and per-row calls cost more than the rows themselves.
type writer struct {
	src, dst, gone inserter
}

type inserter struct {
	one, many *sql.Stmt
	args      []any
	row       func(args []any, r listRow) []any // appends r's values
}

func (d *differ) newWriter(ctx context.Context) (*writer, error) {
	w := &writer{}
	sqlFor := func(table string, cols, n int) string {
		row := "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"
		return "INSERT INTO " + table + " VALUES " + strings.TrimSuffix(strings.Repeat(row+",", n), ",")
	}
	for _, t := range []struct {
		in    *inserter
		table string
		cols  int
		row   func(args []any, r listRow) []any
	}{
		{&w.src, "src", 9, func(a []any, r listRow) []any {
			return append(a, r.key, r.size, r.mtime, r.etag, r.md5, r.refused, r.archived, r.restoring, r.id)
		}},
		{&w.dst, "dst", 6, func(a []any, r listRow) []any { return append(a, r.key, r.size, r.mtime, r.etag, r.md5, r.inscope) }},
		{&w.gone, "gone", 1, func(a []any, r listRow) []any { return append(a, r.key) }},
	} {
		t.in.row = t.row
		t.in.args = make([]any, 0, t.cols*multiRows)
		var err error
		if t.in.one, err = d.tx.PrepareContext(ctx, sqlFor(t.table, t.cols, 1)); err != nil {
			return nil, fmt.Errorf("record listing: %w", err)
		}
		if t.in.many, err = d.tx.PrepareContext(ctx, sqlFor(t.table, t.cols, multiRows)); err != nil {
			return nil, fmt.Errorf("record listing: %w", err)
		}
	}
	return w, nil
}

func (w *writer) close() {
	for _, s := range []*sql.Stmt{w.src.one, w.src.many, w.dst.one, w.dst.many, w.gone.one, w.gone.many} {
		if s != nil {
			s.Close()
		}
	}
}

// insert stores a batch of listed rows in src or dst.
func (w *writer) insert(ctx context.Context, b listBatch) error {
	if b.dst {
		return w.dst.insert(ctx, b.rows)
	}
	return w.src.insert(ctx, b.rows)
}

func (in *inserter) insert(ctx context.Context, rows []listRow) error {
	for len(rows) > 0 {
		n, st := multiRows, in.many
		if len(rows) < multiRows {
			n, st = 1, in.one
		}
		in.args = in.args[:0]
		for _, r := range rows[:n] {
			in.args = in.row(in.args, r)
		}
		// Cancellation is checked here, between statements: a statement
		// given a cancellable context costs the driver a goroutine to
		// watch it, per statement, and one insert of 64 rows is short.
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := sqlitefile.ExecFused(context.WithoutCancel(ctx), st, in.args...); err != nil {
			if strings.Contains(err.Error(), "UNIQUE") {
				return fmt.Errorf("a listing returned the same key twice among %q...: %w", rows[0].key, err)
			}
			return fmt.Errorf("record listing: %w", err)
		}
		rows = rows[n:]
	}
	return nil
}
