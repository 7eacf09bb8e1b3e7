package local

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"syncer/backends"
)

// List walks the folders under prefix, streaming. prefix may end mid-name:
// the walk starts in the folder holding its last segment.
func (b *Backend) List(ctx context.Context, prefix string, fn func(backends.Object) error) error {
	return b.list(ctx, prefix, nil, fn)
}

// sortedHeld bounds the folder entries a sorted listing holds at once (those
// of the folders it is in, from the root down). Each costs about 200 bytes
// of heap, the collector's headroom included (a folder of 100,000 on both
// sides of a plan, held whole, measured 40 MiB more), so 10,000 keep a side
// near 2 MiB (that folder read in passes of 10,000: peak RSS 50 MiB, against
// 38 MiB when it was listed unsorted).
var sortedHeld = 10_000

// ListSorted is List in key order (backends.SortedLister): each folder's
// entries are read and sorted, a folder's name ordered as if it ended in
// "/", as its keys do. A folder larger than what may be held (sortedHeld
// entries at once) is read in several passes (readSorted); one that would
// need more than sortedPasses ends the listing with backends.ErrUnsorted.
func (b *Backend) ListSorted(ctx context.Context, prefix string, fn func(backends.Object) error) error {
	held := sortedHeld
	return b.list(ctx, prefix, &held, fn)
}

// list is List, sorted where held is not nil (see walk).
func (b *Backend) list(ctx context.Context, prefix string, held *int, fn func(backends.Object) error) error {
	dirKey, namePrefix, err := splitPrefix(prefix)
	if err != nil {
		return fmt.Errorf("list %s: %w", b, err)
	}
	// Symlinked folders on the way are not followed, as in a listing from
	// the root.
	d, err := b.openDir(dirKey)
	if err != nil {
		if missing(err) {
			return ctx.Err()
		}
		return fmt.Errorf("list %s: %w", b, err)
	}
	if dirKey != "" {
		dirKey += "/"
	}
	err = b.walk(ctx, d, dirKey, namePrefix, false, held, func(_ *os.File, _, key string, fi fs.FileInfo) error {
		return fn(object(key, fi))
	})
	if err != nil {
		return err
	}
	return ctx.Err()
}

// sortedPasses bounds how many times readSorted reads one folder.
const sortedPasses = 16

// sortedPass is where a folder's sorted reading stands: the key of the last
// entry handed out ("" before the first) and the passes made.
type sortedPass struct {
	after  string
	passes int
}

// sortKey is an entry's key within its folder: a folder's name sorts as if
// it ended in "/".
func sortKey(e fs.DirEntry) string {
	if e.IsDir() {
		return e.Name() + "/"
	}
	return e.Name()
}

// readSorted returns dir's next entries in key order, those after p.after,
// taking their number from *held (walk gives it back when done with them),
// and whether more follow. A folder that fits in *held is read once. One
// that does not is read once per batch, each pass keeping only the smallest
// keys after the last batch's (a heap of at most *held entries): memory
// stays bounded whatever the folder's size, for a pass over its names per
// batch (about 35 ms for 100,000). Such a batch takes all of *held if the
// folder holds no folder, else half, leaving the rest to the folders below.
// A folder needing more than sortedPasses passes ends the listing with
// backends.ErrUnsorted.
func (b *Backend) readSorted(dir *os.File, held *int, p *sortedPass) ([]fs.DirEntry, bool, error) {
	if p.passes++; p.passes > 1 {
		if _, err := dir.Seek(0, io.SeekStart); err != nil {
			return nil, false, fmt.Errorf("list %s: %w", b, err)
		}
	}
	var sel keyHeap // the smallest keys after p.after, largest on top
	n, dirs := 0, 0 // entries after p.after; folders
	for {
		entries, err := dir.ReadDir(listBatch)
		for _, e := range entries {
			k := sortKey(e)
			if e.IsDir() {
				dirs++
			}
			if k <= p.after {
				continue
			}
			if n++; n > sortedPasses**held {
				return nil, false, unsortable(b, dir, n)
			}
			switch {
			case len(sel) < *held:
				// A heap only once full: a folder that fits is sorted once.
				if sel = append(sel, keyed{k, e}); len(sel) == *held {
					heap.Init(&sel)
				}
			case len(sel) > 0 && k < sel[0].key:
				sel[0] = keyed{k, e}
				heap.Fix(&sel, 0)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, false, fmt.Errorf("list %s: %w", b, err)
		}
	}
	take := len(sel)
	if n > take && dirs > 0 {
		take /= 2
	}
	// The passes made before this one, and those the rest needs from here.
	if n > 0 && (take == 0 || p.passes-1+(n+take-1)/take > sortedPasses) {
		return nil, false, unsortable(b, dir, n)
	}
	slices.SortFunc(sel, func(x, y keyed) int { return strings.Compare(x.key, y.key) })
	out := make([]fs.DirEntry, take)
	for i := range out {
		out[i] = sel[i].e
	}
	if take > 0 {
		p.after = sel[take-1].key
	}
	*held -= take
	return out, n > take, nil
}

// unsortable is the error of a folder with too many entries (n so far) to
// sort in what may be held.
func unsortable(b *Backend, dir *os.File, n int) error {
	return fmt.Errorf("list %s: folder %s: %d entries or more, too many to sort in %d passes: %w", b, dir.Name(), n, sortedPasses, backends.ErrUnsorted)
}

// keyed is a folder entry with its sort key, computed once.
type keyed struct {
	key string
	e   fs.DirEntry
}

// keyHeap is a max-heap of entries by key (container/heap; readSorted
// fills it by append and replaces its top, so Push and Pop go unused).
type keyHeap []keyed

func (h keyHeap) Len() int           { return len(h) }
func (h keyHeap) Less(i, j int) bool { return h[i].key > h[j].key }
func (h keyHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *keyHeap) Push(x any)        { *h = append(*h, x.(keyed)) }
func (h *keyHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// openDir opens the folder dirKey for reading its entries.
func (b *Backend) openDir(dirKey string) (*os.File, error) {
	d, _, err := b.openFolder(dirKey, false)
	if err != nil {
		return nil, err
	}
	defer d.close()
	return d.openDir()
}

// splitPrefix splits a list prefix into the key of its folder (all but the
// last segment) and the start of a name in it. Every folder segment must be
// valid; the last segment may be partial or empty.
func splitPrefix(prefix string) (dirKey, namePrefix string, err error) {
	if !utf8.ValidString(prefix) || strings.ContainsRune(prefix, 0) || strings.HasPrefix(prefix, "/") {
		return "", "", fmt.Errorf("invalid list prefix %q", prefix)
	}
	i := strings.LastIndexByte(prefix, '/')
	if i < 0 {
		return "", prefix, nil
	}
	dirKey, namePrefix = prefix[:i], prefix[i+1:]
	if err := backends.CheckKey(dirKey); err != nil {
		return "", "", fmt.Errorf("invalid list prefix %q: %w", prefix, err)
	}
	if filepath.Separator != '/' && strings.ContainsRune(prefix, filepath.Separator) {
		return "", "", fmt.Errorf("invalid list prefix %q: not a local path on this system", prefix)
	}
	return dirKey, namePrefix, nil
}

// walk calls visit for every regular file below the open folder dir (whose
// key prefix is dirKey, "" or ending in "/"), reading entries in batches,
// and closes dir. visit gets the file's folder, open, and name in it. At
// this level only names starting with namePrefix are visited. Temporary
// files are skipped unless temps is set, in which case only they are
// visited. Names that do not make valid keys are skipped; so are symlinks
// and special files (each logged, unless temps). Subfolders are opened
// through dir, never following a symlink, and on Linux files are stat'd
// through dir too. With held (a sorted listing) each folder is visited in
// key order, whole or in batches (readSorted), the entries of a batch
// counted against *held while it is visited.
func (b *Backend) walk(ctx context.Context, dir *os.File, dirKey, namePrefix string, temps bool, held *int, visit func(dir *os.File, name, key string, fi fs.FileInfo) error) error {
	defer dir.Close()
	var ahead statAhead
	defer ahead.wait() // before dir closes
	var pass sortedPass
	for {
		var entries []fs.DirEntry
		var err error
		if held == nil {
			entries, err = dir.ReadDir(listBatch)
		} else {
			// Sorted: the whole folder, or the next batch of it in order.
			var more bool
			if entries, more, err = b.readSorted(dir, held, &pass); err != nil {
				return err
			}
			if !more {
				err = io.EOF
			}
		}
		// The files the loop below stats, so they can be stat'd ahead.
		ahead.reset(dir, entries, func(e fs.DirEntry) bool {
			return e.Type().IsRegular() && strings.HasPrefix(e.Name(), namePrefix) && isTemp(e.Name()) == temps
		})
		for i, e := range entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			name := e.Name()
			if !strings.HasPrefix(name, namePrefix) {
				continue
			}
			key := dirKey + name
			if err := backends.CheckKey(key); err != nil {
				if !temps {
					b.log.Warn("skipping a file or folder whose name cannot be a key", "backend", b.String(),
						"folder", dirKey, "name", fmt.Sprintf("%q", name), "reason", err)
				}
				continue
			}
			switch t := e.Type(); {
			case t.IsDir():
				sub, err := openSubdir(dir, dir.Name(), name)
				if err != nil {
					// Removed, or replaced by a symlink or a file, since
					// ReadDir.
					if missing(err) || errors.Is(err, syscall.ELOOP) {
						continue
					}
					return fmt.Errorf("list %s: %w", b, err)
				}
				if err := b.walk(ctx, sub, key+"/", "", temps, held, visit); err != nil {
					return err
				}
			case t.IsRegular():
				if isTemp(name) != temps {
					continue
				}
				fi, err := ahead.info(i)
				if err != nil {
					if missing(err) {
						continue
					}
					return fmt.Errorf("list %s: %w", b, err)
				}
				if !fi.Mode().IsRegular() { // replaced since ReadDir
					continue
				}
				if err := visit(dir, name, key, fi); err != nil {
					return err
				}
			case temps:
			case t&fs.ModeSymlink != 0:
				b.log.Info("skipping a symlink (symlinks are not followed)", "backend", b.String(), "key", key)
			default:
				b.log.Info("skipping a special file (not a regular file or folder)", "backend", b.String(), "key", key, "type", t.String())
			}
		}
		if held != nil {
			*held += len(entries) // done with the batch (on an error, the listing ends anyway)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", b, err)
		}
	}
}

// statAhead stats a batch's files ahead of the walk, in runs of up to
// statRunMax files it will stat: stat is most of a listing's time. Each run
// is begun on a helper goroutine while the walk is still visiting the runs
// before it (a plan's writer leaves a core part idle); when the walk
// reaches a run, it stats what the helper has not claimed yet and waits
// for the rest. A million files in 1,000 folders, listed in a plan on two
// cores: 3.6-3.7 s with one run shared at a time, 3.15-3.25 s with three.
// It holds statAheadRuns runs' results.
type statAhead struct {
	dir     *os.File
	entries []fs.DirEntry
	want    func(fs.DirEntry) bool // the files the walk will stat
	ring    [statAheadRuns]statRun
	cur, n  int // ring[cur] is the run the walk reads, n the runs begun from it on
}

// statAheadRuns is how many runs are stat'd at once (the walk's and those
// ahead of it).
const statAheadRuns = 3

// reset points a at a new batch of dir's entries, once the last batch's
// helpers are done.
func (a *statAhead) reset(dir *os.File, entries []fs.DirEntry, want func(fs.DirEntry) bool) {
	a.wait()
	a.dir, a.entries, a.want = dir, entries, want
	a.n = 0
}

// wait returns once no helper runs: the walk calls it before it closes
// dir or drops the batch.
func (a *statAhead) wait() {
	for i := range a.ring {
		a.ring[i].helper.Wait()
	}
}

// info returns the stat of entries[i], a file the walk stats; the walk asks
// in increasing i.
func (a *statAhead) info(i int) (fs.FileInfo, error) {
	if a.n == 0 || !a.ring[a.cur].holds(i) {
		for {
			if a.n > 0 { // done with: finished when the walk reached it
				a.cur, a.n = (a.cur+1)%len(a.ring), a.n-1
			}
			if a.n == 0 {
				a.ring[a.cur].begin(a, i)
				a.n = 1
			}
			a.ring[a.cur].finish(a)
			if a.ring[a.cur].holds(i) {
				break
			}
		}
		// Keep the runs after it begun, each from the next file the walk
		// will stat.
		for a.n < len(a.ring) {
			last := &a.ring[(a.cur+a.n-1)%len(a.ring)]
			j := last.from + len(last.res)
			for j < len(a.entries) && !a.want(a.entries[j]) {
				j++
			}
			if j == len(a.entries) {
				break
			}
			a.ring[(a.cur+a.n)%len(a.ring)].begin(a, j)
			a.n++
		}
	}
	r := a.ring[a.cur].res[i-a.ring[a.cur].from]
	return r.fi, r.err
}

// statRun is one run's results, filled by whoever claims each index.
type statRun struct {
	from    int // the index in the batch of res[0]
	res     []statResult
	claimed atomic.Int64 // indexes of res handed out so far
	helper  sync.WaitGroup
}

type statResult struct {
	fi  fs.FileInfo
	err error
}

// statRunMax bounds a run; a run shorter than statSplitMin is stat'd by the
// walk alone.
const statRunMax, statSplitMin = 256, 16

// statClaim is how many files a goroutine claims at a time: neighbours in
// res written from two cores would share cache lines.
const statClaim = 16

func (r *statRun) holds(i int) bool { return i >= r.from && i < r.from+len(r.res) }

// begin sets r to the run of files starting at entries[i] and starts a
// helper on it when it is long enough to share.
func (r *statRun) begin(a *statAhead, i int) {
	j := i + 1
	for j < len(a.entries) && j-i < statRunMax && a.want(a.entries[j]) {
		j++
	}
	r.from, r.res = i, slices.Grow(r.res[:0], j-i)[:j-i]
	r.claimed.Store(0)
	if j-i >= statSplitMin {
		run := a.entries[i:j]
		r.helper.Go(func() { r.work(a.dir, run) })
	}
}

// work stats the run's files until none is left to claim.
func (r *statRun) work(dir *os.File, run []fs.DirEntry) {
	for {
		k := int(r.claimed.Add(statClaim) - statClaim)
		if k >= len(run) {
			return
		}
		for end := min(k+statClaim, len(run)); k < end; k++ {
			r.res[k].fi, r.res[k].err = entryInfo(dir, run[k])
		}
	}
}

// finish stats what is left of r on the calling goroutine and waits for
// its helper.
func (r *statRun) finish(a *statAhead) {
	if len(r.res) > 0 {
		r.work(a.dir, a.entries[r.from:r.from+len(r.res)])
	}
	r.helper.Wait()
}

// CleanTemp removes temporary files left under the root by interrupted
// Puts whose last status change is at least olderThan ago, and returns how
// many it removed. It stops at an unreadable folder; a file it cannot remove
// is reported after the walk.
// Call it only when no Put may be running on the root, or with an age well
// above the longest transfer.
func (b *Backend) CleanTemp(ctx context.Context, olderThan time.Duration) (int, error) {
	cutoff := time.Now().Add(-olderThan)
	removed := 0
	var firstErr error
	root, err := b.openDir("")
	if err != nil {
		if missing(err) {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("clean temp %s: %w", b, err)
	}
	err = b.walk(ctx, root, "", "", true, nil, func(dir *os.File, name, key string, fi fs.FileInfo) error {
		if changeTime(fi).After(cutoff) {
			return nil
		}
		if err := removeIn(dir, dir.Name(), name); err != nil {
			if !missing(err) && firstErr == nil {
				firstErr = fmt.Errorf("clean temp %s: %w", b, err)
			}
			return nil
		}
		removed++
		return nil
	})
	if err != nil {
		return removed, err
	}
	return removed, firstErr
}
