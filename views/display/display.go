// Package display renders sizes, counts and keys for people, as every
// text output of syncer prints them (views and the messages of the layers
// below, which cannot import views).
package display

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// Bytes renders n in IEC units with one decimal: "0 B", "512 B", "12.4 MiB".
func Bytes(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B" // fmt costs a plan of a million lines a tenth of a second
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v := float64(n) / 1024
	i := 0
	// Compare after rounding, so 1048575 is "1.0 MiB", not "1024.0 KiB".
	for math.Round(v*10)/10 >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

// Key returns key as plans and listings print it: as it is, unless
// it holds characters that could forge, hide or reorder what a terminal
// shows (control characters such as newlines and escapes, line separators,
// bidirectional controls) or starts with a quote; then Go-quoted.
func Key(key string) string {
	if strings.HasPrefix(key, `"`) || strings.ContainsFunc(key, func(r rune) bool {
		return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Bidi_Control, r)
	}) {
		return strconv.Quote(key)
	}
	return key
}

// Count renders n with thousands separators: "1,204".
func Count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
