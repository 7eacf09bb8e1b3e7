package gdrive

import "hash/maphash"

// Sizes of seenSet: exact up to seenExact keys, then a Bloom filter of
// seenBloomBits bits (128 KiB), which for 100,000 keys answers "maybe"
// wrongly about 1% of the time.
const (
	seenExact     = 4096
	seenBloomBits = 1 << 20
	seenHashes    = 4
)

// seenSet remembers the keys a folder's listing emitted, in bounded
// memory: exactly for small folders, then as a Bloom filter (no false
// "no", rare false "maybe"; a "maybe" is settled by asking Drive).
type seenSet struct {
	exact map[string]struct{}
	bloom []uint64 // nil until the exact set overflows
}

func (s *seenSet) reset() {
	clear(s.exact)
	if s.bloom != nil {
		clear(s.bloom)
		s.bloom = s.bloom[:0]
	}
}

var bloomSeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

func bloomHashes(k string) (uint64, uint64) {
	return maphash.String(bloomSeeds[0], k), maphash.String(bloomSeeds[1], k) | 1
}

// add records k and reports whether it may have been recorded before
// (certainly not when false).
func (s *seenSet) add(k string) (maybe bool) {
	if len(s.bloom) == 0 {
		if s.exact == nil {
			s.exact = map[string]struct{}{}
		}
		if _, ok := s.exact[k]; ok {
			return true
		}
		if len(s.exact) < seenExact {
			s.exact[k] = struct{}{}
			return false
		}
		// Switch to the filter, carrying over what the set knew.
		if cap(s.bloom) == 0 {
			s.bloom = make([]uint64, seenBloomBits/64)
		}
		s.bloom = s.bloom[:seenBloomBits/64]
		for e := range s.exact {
			s.bloomAdd(e)
		}
		clear(s.exact)
	}
	return s.bloomAdd(k)
}

func (s *seenSet) bloomAdd(k string) bool {
	a, b := bloomHashes(k)
	present := true
	for i := range uint64(seenHashes) {
		bit := (a + i*b) % seenBloomBits
		w, m := bit/64, uint64(1)<<(bit%64)
		if s.bloom[w]&m == 0 {
			present = false
			s.bloom[w] |= m
		}
	}
	return present
}

// has reports whether k may have been recorded (certainly not when
// false), without recording it.
func (s *seenSet) has(k string) bool {
	if len(s.bloom) == 0 {
		_, ok := s.exact[k]
		return ok
	}
	a, b := bloomHashes(k)
	for i := range uint64(seenHashes) {
		bit := (a + i*b) % seenBloomBits
		if s.bloom[bit/64]&(uint64(1)<<(bit%64)) == 0 {
			return false
		}
	}
	return true
}
