// Package shard splits a sync's keys into N disjoint parts, so that N
// syncer processes (a Kubernetes Indexed Job's pods) each plan and apply
// one part with their own state and lock.
//
// A key belongs to shard FNV-1a-64(key bytes) mod N: the 64-bit FNV-1a
// hash of the key's UTF-8 bytes as listed (relative to the backend, with
// the sync's prefix), the same on every platform and in every version.
//
// A sync whose source lists folder by folder against a request quota
// (Google Drive) is split by top-level folder instead: a key belongs to the
// shard of its first path segment below the sync's folder (FolderKey), so
// that a shard lists its own folders only.
package shard

import (
	"fmt"
	"hash/fnv"
	"path"
	"strconv"
	"strings"
)

// MaxCount bounds N: more shards than this are surely a typo.
const MaxCount = 10000

// EnvVar names the environment variable that sets the shard when the
// -shard flag is not given.
const EnvVar = "SYNCER_SHARD"

// Shard is part Index (from 0) of Count. The zero Shard is no sharding:
// it contains every key.
type Shard struct {
	Index, Count int
}

// Parse reads "I/N" (0 <= I < N <= MaxCount). "" is the zero Shard.
func Parse(s string) (Shard, error) {
	if s == "" {
		return Shard{}, nil
	}
	is, ns, ok := strings.Cut(s, "/")
	if !ok {
		return Shard{}, fmt.Errorf("%q is not I/N (shard I of N, I from 0), e.g. 0/4", s)
	}
	i, err1 := strconv.Atoi(strings.TrimSpace(is))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	switch {
	case err1 != nil || err2 != nil:
		return Shard{}, fmt.Errorf("%q is not I/N with whole numbers I and N, e.g. 0/4", s)
	case n < 1 || n > MaxCount:
		return Shard{}, fmt.Errorf("%q: the number of shards must be from 1 to %d", s, MaxCount)
	case i < 0 || i >= n:
		return Shard{}, fmt.Errorf("%q: the shard index must be from 0 to %d (indexes start at 0)", s, n-1)
	}
	return Shard{Index: i, Count: n}, nil
}

// Sharded reports whether s is a part rather than the whole.
func (s Shard) Sharded() bool { return s.Count > 0 }

// String is "I/N", or "" for the zero Shard.
func (s Shard) String() string {
	if !s.Sharded() {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Hash is the 64-bit FNV-1a hash of key's bytes.
func Hash(key string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	return h.Sum64()
}

// Of returns the shard (0..n-1) that key belongs to among n.
func Of(key string, n int) int { return int(Hash(key) % uint64(n)) }

// Contains reports whether key belongs to s; every key belongs to the
// zero Shard.
func (s Shard) Contains(key string) bool {
	if s.Count <= 1 {
		return true
	}
	return Of(key, s.Count) == s.Index
}

// FolderKey is what a key is hashed by when keys are split by top-level
// folder: its first path segment below dir, the sync's folder ("" or
// ending in "/"). With dir "media/", "media/2024/a.jpg" gives "2024" and
// "media/b.txt" gives "b.txt"; a key outside dir gives itself.
func FolderKey(key, dir string) string {
	rest, ok := strings.CutPrefix(key, dir)
	if !ok {
		return key
	}
	top, _, _ := strings.Cut(rest, "/")
	return top
}

// ContainsFolder is Contains for keys split by top-level folder below dir.
func (s Shard) ContainsFolder(key, dir string) bool { return s.Contains(FolderKey(key, dir)) }

// Name gives a state's file name or key its shard's suffix before the
// extension of the last path element: "syncer/media.db" becomes
// "syncer/media.shard-3-of-8.db", "state" becomes "state.shard-3-of-8".
// The zero Shard, and an empty name, are left as they are.
func (s Shard) Name(name string) string {
	if !s.Sharded() || name == "" {
		return name
	}
	dir, base := path.Split(name)
	ext := path.Ext(base)
	if ext == base { // ".db": a hidden file, not an extension
		ext = ""
	}
	return dir + strings.TrimSuffix(base, ext) + fmt.Sprintf(".shard-%d-of-%d", s.Index, s.Count) + ext
}

// MaxDelete is a shard's share of a whole sync's max_delete: ceil(limit /
// N), so that the shards together delete at most about limit (no more than
// limit + N - 1). A negative limit (no cap) stays negative.
func (s Shard) MaxDelete(limit int) int {
	if limit < 0 || !s.Sharded() {
		return limit
	}
	return (limit + s.Count - 1) / s.Count
}
