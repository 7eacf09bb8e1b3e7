package local

// UseNamedTemps makes b write under temporary names, as on filesystems
// without unnamed files.
func UseNamedTemps(b *Backend) { b.unnamed.Store(unnamedNo) }

// WritesUnnamed reports whether b has settled on unnamed files.
func WritesUnnamed(b *Backend) bool { return b.unnamed.Load() == unnamedYes }
