package local

import (
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// A Put, or the read of a copy's source, resolves its key's folder; a run
// writes many keys into one folder in a row. dirCache keeps the
// descriptors of the last few folders opened that way for a short while,
// so that a copy of a small file costs no path resolution: no open of the
// root by its path, no openat2. The descriptors are what openFolder gave
// (reached without following a symlink below the root); a folder that is
// removed while cached fails its operation with ENOENT, which drops the
// entry (see dropFolder) and retries with a fresh open. A folder renamed
// away by another program keeps being used for up to dirCacheTTL, as a
// path resolved just before the rename would.
const (
	dirCacheSize = 16          // folders held open
	dirCacheTTL  = time.Second // then resolved again by path
)

type dirCache struct {
	mu sync.Mutex
	m  map[string]*cachedDir
}

// cachedDir is a shared folder descriptor; it is closed once the cache and
// every user have let go of it.
type cachedDir struct {
	fd   int
	refs int // the cache's reference (while in m) plus one per user
	at   time.Time
}

// cachedFolder is openFolder through the cache. The caller closes the
// folder as usual.
func (b *Backend) cachedFolder(dirKey string, create bool) (*folder, []string, error) {
	now := time.Now()
	c := &b.dirs
	c.mu.Lock()
	if e := c.m[dirKey]; e != nil {
		if now.Sub(e.at) < dirCacheTTL {
			e.refs++
			c.mu.Unlock()
			return &folder{fd: e.fd, path: b.folderPath(dirKey), shared: e, cache: c}, nil, nil
		}
		c.dropLocked(dirKey, e)
	}
	c.mu.Unlock()
	d, created, err := b.openFolder(dirKey, create)
	if err != nil {
		return nil, created, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*cachedDir{}
	}
	if old := c.m[dirKey]; old != nil {
		c.dropLocked(dirKey, old) // another user cached it meanwhile
	}
	if len(c.m) >= dirCacheSize {
		oldest := ""
		for k, e := range c.m {
			if oldest == "" || e.at.Before(c.m[oldest].at) {
				oldest = k
			}
		}
		c.dropLocked(oldest, c.m[oldest])
	}
	e := &cachedDir{fd: d.fd, refs: 2, at: now}
	c.m[dirKey] = e
	d.shared, d.cache = e, c
	return d, created, nil
}

func (b *Backend) folderPath(dirKey string) string {
	if dirKey == "" {
		return b.root
	}
	return filepath.Join(b.root, filepath.FromSlash(dirKey))
}

// dropFolder forgets the cached descriptor of dirKey (the folder went away,
// or a retry must resolve it again).
func (b *Backend) dropFolder(dirKey string) {
	b.dirs.mu.Lock()
	defer b.dirs.mu.Unlock()
	if e := b.dirs.m[dirKey]; e != nil {
		b.dirs.dropLocked(dirKey, e)
	}
}

// dropAllFolders forgets every cached descriptor: a folder was removed, and
// with it, maybe, folders below it.
func (b *Backend) dropAllFolders() {
	b.dirs.mu.Lock()
	defer b.dirs.mu.Unlock()
	for k, e := range b.dirs.m {
		b.dirs.dropLocked(k, e)
	}
}

func (c *dirCache) dropLocked(key string, e *cachedDir) {
	delete(c.m, key)
	c.releaseLocked(e)
}

func (c *dirCache) release(e *cachedDir) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.releaseLocked(e)
}

func (c *dirCache) releaseLocked(e *cachedDir) {
	if e.refs--; e.refs == 0 {
		unix.Close(e.fd)
	}
}
