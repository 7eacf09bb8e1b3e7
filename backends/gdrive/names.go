package gdrive

import (
	"container/list"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"
)

const (
	slashSub = '∕' // U+2215 DIVISION SLASH: stands for "/" in a name
	quote    = '‛' // U+201B: escapes slashSub (see NameToSegment)
)

// NameToSegment maps a Drive name to a key segment, reversibly:
//
//   - "/" becomes "∕" (U+2215);
//   - a literal "∕" becomes "‛∕" (U+201B U+2215);
//   - a run of n "‛" just before a "/" or a "∕" in the name is doubled
//     (2n), so that it cannot be read as an escape.
//
// Names without "/" or "∕" map to themselves. ok is false for names that
// cannot be a segment: "", ".", "..", or containing NUL or invalid UTF-8.
func NameToSegment(name string) (seg string, ok bool) {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, 0) || !utf8.ValidString(name) {
		return "", false
	}
	if !strings.ContainsRune(name, '/') && !strings.ContainsRune(name, slashSub) {
		return name, true
	}
	var sb strings.Builder
	quotes := 0 // pending run of quote runes
	flush := func(n int) {
		for range n {
			sb.WriteRune(quote)
		}
	}
	for _, r := range name {
		switch r {
		case quote:
			quotes++
			continue
		case '/':
			flush(2 * quotes)
			sb.WriteRune(slashSub)
		case slashSub:
			flush(2*quotes + 1)
			sb.WriteRune(slashSub)
		default:
			flush(quotes)
			sb.WriteRune(r)
		}
		quotes = 0
	}
	flush(quotes)
	return sb.String(), true
}

// SegmentToName is the inverse of NameToSegment: a run of m "‛" before a
// "∕" stands for m/2 "‛" and then "/" (m even) or "∕" (m odd).
func SegmentToName(seg string) string {
	if !strings.ContainsRune(seg, slashSub) {
		return seg
	}
	var sb strings.Builder
	quotes := 0
	for _, r := range seg {
		switch r {
		case quote:
			quotes++
			continue
		case slashSub:
			for range quotes / 2 {
				sb.WriteRune(quote)
			}
			if quotes%2 == 1 {
				sb.WriteRune(slashSub)
			} else {
				sb.WriteRune('/')
			}
		default:
			for range quotes {
				sb.WriteRune(quote)
			}
			sb.WriteRune(r)
		}
		quotes = 0
	}
	for range quotes {
		sb.WriteRune(quote)
	}
	return sb.String()
}

// splitExt splits a segment into stem and extension (".jpg"); a leading
// dot is part of the stem, so ".hidden" has no extension.
func splitExt(seg string) (stem, ext string) {
	i := strings.LastIndexByte(seg, '.')
	if i <= 0 || strings.ContainsAny(seg[i:], " ()") {
		return seg, ""
	}
	return seg[:i], seg[i:]
}

// dupSegment is the key segment of a duplicate: "<stem> (dup <id>)<ext>".
func dupSegment(seg, id string) string {
	stem, ext := splitExt(seg)
	return stem + " (dup " + id + ")" + ext
}

var dupPattern = regexp.MustCompile(`^(.*) \(dup ([A-Za-z0-9_-]+)\)((?:\.[^. ()]*)?)$`)

// parseDup reads a duplicate's segment: the item id and the segment it
// duplicates.
func parseDup(seg string) (base, id string, ok bool) {
	m := dupPattern.FindStringSubmatch(seg)
	if m == nil {
		return "", "", false
	}
	return m[1] + m[3], m[2], true
}

// lru is a bounded, concurrency-safe map of folder keys to ids with
// least-recently-used eviction.
type lru struct {
	mu    sync.Mutex
	max   int
	order *list.List // front: most recent; values are *lruEntry
	m     map[string]*list.Element
}

type lruEntry struct{ key, id string }

func newLRU(max int) *lru { return &lru{max: max, order: list.New(), m: map[string]*list.Element{}} }

func (c *lru) get(key string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok {
		return "", false
	}
	c.order.MoveToFront(e)
	return e.Value.(*lruEntry).id, true
}

func (c *lru) put(key, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok {
		e.Value.(*lruEntry).id = id
		c.order.MoveToFront(e)
		return
	}
	c.m[key] = c.order.PushFront(&lruEntry{key, id})
	for c.order.Len() > c.max {
		old := c.order.Back()
		c.order.Remove(old)
		delete(c.m, old.Value.(*lruEntry).key)
	}
}

// forget drops key and every key below it.
func (c *lru) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if k == key || strings.HasPrefix(k, key+"/") {
			c.order.Remove(e)
			delete(c.m, k)
		}
	}
}

func (c *lru) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
