package backends

import (
	"hash/maphash"
	"slices"
)

// recentTokens is how many of a listing's latest page tokens a TokenTrail
// keeps (as 64-bit hashes, whatever the tokens' length).
const recentTokens = 64

// TokenTrail notices a page token that a listing hands out again, in fixed
// memory, so a server that sends a listing round in circles cannot keep it
// going for ever: a repeat within the last 64 tokens at once; a longer
// cycle (a server that, given a token, always answers with the same next
// one, ends up in a cycle) by Brent's method: the token at each
// power-of-two position is kept until the next, and a cycle of length L
// entered after M pages brings it back within about 2*max(M, L) + L pages.
// Page tokens never repeat in a sound listing, and two distinct tokens
// share a hash with a chance of about 2^-58, so there are no false alarms
// in practice. The zero value is ready to use.
type TokenTrail struct {
	recent [recentTokens]uint64
	n      int    // tokens seen
	saved  uint64 // the token at the last power-of-two position
}

var tokenSeed = maphash.MakeSeed()

// Repeated records tok and reports whether it was seen before.
func (t *TokenTrail) Repeated(tok string) bool {
	h := maphash.String(tokenSeed, tok)
	if t.n > 0 && h == t.saved {
		return true
	}
	if slices.Contains(t.recent[:min(t.n, recentTokens)], h) {
		return true
	}
	t.recent[t.n%recentTokens] = h
	t.n++
	if t.n&(t.n-1) == 0 {
		t.saved = h
	}
	return false
}
