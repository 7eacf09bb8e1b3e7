package gdrive

import (
	"sync"
	"time"

	"google.golang.org/api/drive/v3"
)

// A multipart upload elsewhere reads a Drive file as a run of ranges, one
// Open per part. rangedFiles remembers the few files whose first range was
// opened most recently, so the later parts do not look their key up again
// (a files.list each) and read the same file the first part did. Entries
// expire after rangedTTL; a file deleted meanwhile answers 404 and is
// looked up afresh.
const (
	rangedSlots = 8
	rangedTTL   = time.Minute
)

type rangedFiles struct {
	mu    sync.Mutex
	slots [rangedSlots]rangedSlot
	next  int
}

type rangedSlot struct {
	key  string
	f    *drive.File
	seen time.Time
}

func (c *rangedFiles) get(key string) *drive.File {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.slots {
		s := &c.slots[i]
		if s.f != nil && s.key == key && time.Since(s.seen) < rangedTTL {
			return s.f
		}
	}
	return nil
}

func (c *rangedFiles) put(key string, f *drive.File) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.slots {
		if c.slots[i].key == key {
			c.slots[i] = rangedSlot{key, f, time.Now()}
			return
		}
	}
	c.slots[c.next] = rangedSlot{key, f, time.Now()}
	c.next = (c.next + 1) % rangedSlots
}

func (c *rangedFiles) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.slots {
		if c.slots[i].key == key {
			c.slots[i] = rangedSlot{}
		}
	}
}
