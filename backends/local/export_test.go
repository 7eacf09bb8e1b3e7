package local

// UseNamedTemps makes b write under temporary names, as on filesystems
// without unnamed files.
func UseNamedTemps(b *Backend) { b.unnamed.Store(unnamedNo) }

// WritesUnnamed reports whether b has settled on unnamed files.
func WritesUnnamed(b *Backend) bool { return b.unnamed.Load() == unnamedYes }

// NoOpenat2 makes b open folders one at a time, as where the kernel has no
// openat2.
func NoOpenat2(b *Backend) { b.noOpenat2.Store(true) }

// SetSortedHeld sets how many folder entries a sorted listing may hold, and
// returns a function that restores the default.
func SetSortedHeld(n int) (restore func()) {
	old := sortedHeld
	sortedHeld = n
	return func() { sortedHeld = old }
}
