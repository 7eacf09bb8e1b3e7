package display

import "testing"

func TestBytes(t *testing.T) {
	cases := []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{1, "1 B"},
		{512, "512 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{1536, "1.5 KiB"},
		{3048, "3.0 KiB"},
		{1<<20 - 1, "1.0 MiB"}, // rounds up into the next unit, not "1024.0 KiB"
		{1 << 20, "1.0 MiB"},
		{12_400_000, "11.8 MiB"},
		{1 << 30, "1.0 GiB"},
		{5<<40 + 1<<39, "5.5 TiB"},
		{1 << 50, "1.0 PiB"},
		{1 << 60, "1.0 EiB"},
		{1<<63 - 1, "8.0 EiB"},
	}
	for _, c := range cases {
		if got := Bytes(c.n); got != c.want {
			t.Errorf("Bytes(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}

// Keys that could forge, hide or reorder plan lines on a terminal are
// printed quoted; everything else, unicode included, as it is.
func TestKey(t *testing.T) {
	for key, want := range map[string]string{
		"plain/café 日本.txt":                   "plain/café 日本.txt",
		"notes.txt (4 B)\n  - taxes-2025.pdf": `"notes.txt (4 B)\n  - taxes-2025.pdf"`,
		"tab\there":                           `"tab\there"`,
		"esc\x1b[2K\x1b[1Ahidden":             `"esc\x1b[2K\x1b[1Ahidden"`,
		"rlo\u202egnp.exe":                    `"rlo\u202egnp.exe"`,
		"line\u2028sep":                       `"line\u2028sep"`,
		`"quoted".txt`:                        `"\"quoted\".txt"`,
		`it's "fine".txt`:                     `it's "fine".txt`,
	} {
		if got := Key(key); got != want {
			t.Errorf("Key(%q) = %s; want %s", key, got, want)
		}
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0", 7: "7", 999: "999", 1000: "1,000", 1204: "1,204", 123456: "123,456",
		1234567: "1,234,567", -1234: "-1,234",
	} {
		if got := Count(n); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}
