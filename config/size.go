package config

import (
	"fmt"
	"math/big"
	"strings"
)

// sizeUnits maps each accepted unit to its multiplier in bytes.
var sizeUnits = map[string]int64{
	"B":  1,
	"KB": 1e3, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
	"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
	"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40,
}

const sizeHelp = `accepted: a number and a unit such as "512MiB", "1.5GiB" or "100B" ` +
	`(KiB MiB GiB TiB or Ki Mi Gi Ti are 1024-based; KB MB GB TB or kB are 1000-based), or "0"`

// ParseSize parses a byte size such as "512MiB", "1.5GiB", "10KB", "100B",
// "64Mi" or "0". IEC units (KiB.., Ki..) are 1024-based, SI units (KB.., kB)
// 1000-based. An optional space may separate number and unit. Fractional
// bytes are rounded down. Ambiguous input — a bare number other than 0, "K",
// "M" or "G" alone, lowercase "mb", "b" — is rejected, as are negative,
// empty and overflowing sizes.
func ParseSize(s string) (int64, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, fmt.Errorf("empty size; %s", sizeHelp)
	}
	if in == "0" {
		return 0, nil
	}
	if in[0] == '-' {
		return 0, fmt.Errorf("invalid size %q: a size cannot be negative", s)
	}
	i := 0
	for i < len(in) && (in[i] >= '0' && in[i] <= '9' || in[i] == '.') {
		i++
	}
	num, unit := in[:i], strings.TrimLeft(in[i:], " ")
	if !validDecimal(num) {
		return 0, fmt.Errorf("invalid size %q; %s", s, sizeHelp)
	}
	if unit == "" {
		return 0, fmt.Errorf("invalid size %q: a bare number is ambiguous; %s", s, sizeHelp)
	}
	mult, ok := sizeUnits[unit]
	if !ok {
		return 0, fmt.Errorf("invalid size %q: %s; %s", s, unitHint(unit), sizeHelp)
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, fmt.Errorf("invalid size %q; %s", s, sizeHelp)
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	n := new(big.Int).Quo(r.Num(), r.Denom()) // both positive: rounds down
	if !n.IsInt64() {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return n.Int64(), nil
}

// ParseRate parses a size per second, "50MiB/s": bytes per second. The
// "/s" is required (a size alone is not a rate), but for "0", unlimited.
func ParseRate(s string) (int64, error) {
	in := strings.TrimSpace(s)
	rest, ok := strings.CutSuffix(in, "/s")
	if !ok && in != "0" {
		return 0, fmt.Errorf("%q is not a rate: write a size per second, e.g. \"50MiB/s\"", s)
	}
	in = strings.TrimRight(rest, " ")
	n, err := ParseSize(in)
	if err != nil {
		return 0, fmt.Errorf("%w (a rate may end in \"/s\", e.g. \"50MiB/s\")", err)
	}
	return n, nil
}

// validDecimal accepts "12" and "1.5", not "", ".5", "1." or "1.2.3".
func validDecimal(s string) bool {
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || strings.Contains(frac, ".") || hasDot && frac == "" {
		return false
	}
	return true
}

// unitHint explains why unit was rejected.
func unitHint(unit string) string {
	switch u := strings.ToUpper(unit); {
	case unit == "b":
		return `"b" could mean bits; write "B" for bytes`
	case len(u) == 1 && strings.Contains("KMGT", u):
		return fmt.Sprintf("%q alone is ambiguous; write %siB (1024-based) or %sB (1000-based)", unit, u, u)
	case len(u) == 2 && u[1] == 'B' && strings.Contains("KMGT", u[:1]),
		len(u) == 3 && u[1:] == "IB" && strings.Contains("KMGT", u[:1]):
		return fmt.Sprintf("unit %q has the wrong case; write %siB (1024-based) or %sB (1000-based)", unit, u[:1], u[:1])
	}
	return fmt.Sprintf("unknown unit %q", unit)
}
