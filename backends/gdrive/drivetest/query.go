package drivetest

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
)

// The search query language of files.list (the q parameter), the subset
// the fake understands:
//
//	'<id>' in parents
//	trashed = true|false          (also !=)
//	name = '…'  name != '…'  name contains '…'
//	mimeType = '…'  mimeType != '…'  mimeType contains '…'
//	modifiedTime|createdTime (= != < <= > >=) '<RFC 3339>'
//	not <term>, and, or, parentheses
//
// Strings are single-quoted; a backslash escapes ' and \. Anything else
// is an "Invalid Value" error, as Drive answers (400) to a query it does
// not understand.

// cond is a parsed query: it reports whether a file matches.
type cond func(f *file, s *Server) bool

type token struct {
	kind string // "str", "word", "op", "(", ")"
	text string
}

func tokenize(q string) ([]token, error) {
	var toks []token
	rs := []rune(q)
	for i := 0; i < len(rs); {
		c := rs[i]
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '(' || c == ')':
			toks = append(toks, token{kind: string(c)})
			i++
		case c == '\'':
			var sb strings.Builder
			i++
			closed := false
			for i < len(rs) {
				if rs[i] == '\\' && i+1 < len(rs) {
					sb.WriteRune(rs[i+1])
					i += 2
					continue
				}
				if rs[i] == '\'' {
					closed = true
					i++
					break
				}
				sb.WriteRune(rs[i])
				i++
			}
			if !closed {
				return nil, fmt.Errorf("unterminated string")
			}
			toks = append(toks, token{kind: "str", text: sb.String()})
		case c == '=' || c == '<' || c == '>' || c == '!':
			op := string(c)
			if i+1 < len(rs) && rs[i+1] == '=' {
				op += "="
				i++
			}
			i++
			if op == "!" {
				return nil, fmt.Errorf("unexpected '!'")
			}
			toks = append(toks, token{kind: "op", text: op})
		case unicode.IsLetter(c) || unicode.IsDigit(c):
			j := i
			for j < len(rs) && (unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j]) || rs[j] == '_' || rs[j] == '.') {
				j++
			}
			toks = append(toks, token{kind: "word", text: string(rs[i:j])})
			i = j
		default:
			return nil, fmt.Errorf("unexpected character %q", c)
		}
	}
	return toks, nil
}

type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek() token {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return token{kind: "eof"}
}

func (p *parser) next() token {
	t := p.peek()
	if p.pos < len(p.toks) {
		p.pos++
	}
	return t
}

func (p *parser) isWord(w string) bool {
	t := p.peek()
	return t.kind == "word" && strings.EqualFold(t.text, w)
}

// parseQuery parses q; an empty q matches everything.
func parseQuery(q string) (cond, error) {
	if strings.TrimSpace(q) == "" {
		return func(*file, *Server) bool { return true }, nil
	}
	toks, err := tokenize(q)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	c, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.peek().kind != "eof" {
		return nil, fmt.Errorf("unexpected %q", p.peek().text)
	}
	return c, nil
}

func (p *parser) or() (cond, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.isWord("or") {
		p.next()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		a, b := l, r
		l = func(f *file, s *Server) bool { return a(f, s) || b(f, s) }
	}
	return l, nil
}

func (p *parser) and() (cond, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.isWord("and") {
		p.next()
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		a, b := l, r
		l = func(f *file, s *Server) bool { return a(f, s) && b(f, s) }
	}
	return l, nil
}

func (p *parser) unary() (cond, error) {
	switch {
	case p.isWord("not"):
		p.next()
		c, err := p.unary()
		if err != nil {
			return nil, err
		}
		return func(f *file, s *Server) bool { return !c(f, s) }, nil
	case p.peek().kind == "(":
		p.next()
		c, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.next().kind != ")" {
			return nil, fmt.Errorf("missing ')'")
		}
		return c, nil
	}
	return p.term()
}

func (p *parser) term() (cond, error) {
	t := p.next()
	if t.kind == "str" {
		// 'value' in parents
		if !p.isWord("in") {
			return nil, fmt.Errorf("expected 'in' after %q", t.text)
		}
		p.next()
		field := p.next()
		if field.kind != "word" || field.text != "parents" {
			return nil, fmt.Errorf("'in' is only supported with parents")
		}
		id := t.text
		return func(f *file, s *Server) bool {
			return slices.Contains(f.Parents, s.resolveAlias(id))
		}, nil
	}
	if t.kind != "word" {
		return nil, fmt.Errorf("unexpected %q", t.text)
	}
	field := t.text
	op := p.next()
	if op.kind == "word" && op.text == "contains" {
		op.kind = "op"
	}
	if op.kind != "op" {
		return nil, fmt.Errorf("expected an operator after %s", field)
	}
	val := p.next()
	switch field {
	case "trashed":
		if val.kind != "word" || (val.text != "true" && val.text != "false") {
			return nil, fmt.Errorf("trashed takes true or false")
		}
		want := val.text == "true"
		switch op.text {
		case "=":
			return func(f *file, s *Server) bool { return s.isTrashed(f) == want }, nil
		case "!=":
			return func(f *file, s *Server) bool { return s.isTrashed(f) != want }, nil
		}
		return nil, fmt.Errorf("trashed supports = and !=")
	case "name", "mimeType":
		if val.kind != "str" {
			return nil, fmt.Errorf("%s takes a quoted string", field)
		}
		get := func(f *file) string { return f.Name }
		if field == "mimeType" {
			get = func(f *file) string { return f.MimeType }
		}
		v := val.text
		switch op.text {
		case "=":
			return func(f *file, _ *Server) bool { return get(f) == v }, nil
		case "!=":
			return func(f *file, _ *Server) bool { return get(f) != v }, nil
		case "contains":
			if field == "name" {
				// Drive matches name contains on word prefixes; a plain
				// prefix match is close enough for the fake.
				return func(f *file, _ *Server) bool { return strings.HasPrefix(get(f), v) }, nil
			}
			return func(f *file, _ *Server) bool { return strings.Contains(get(f), v) }, nil
		}
		return nil, fmt.Errorf("%s supports =, != and contains", field)
	case "modifiedTime", "createdTime":
		if val.kind != "str" {
			return nil, fmt.Errorf("%s takes a quoted RFC 3339 time", field)
		}
		tv, err := time.Parse(time.RFC3339Nano, val.text)
		if err != nil {
			return nil, fmt.Errorf("invalid time %q", val.text)
		}
		get := func(f *file) time.Time { return f.ModifiedTime }
		if field == "createdTime" {
			get = func(f *file) time.Time { return f.CreatedTime }
		}
		var cmp func(c int) bool
		switch op.text {
		case "=":
			cmp = func(c int) bool { return c == 0 }
		case "!=":
			cmp = func(c int) bool { return c != 0 }
		case "<":
			cmp = func(c int) bool { return c < 0 }
		case "<=":
			cmp = func(c int) bool { return c <= 0 }
		case ">":
			cmp = func(c int) bool { return c > 0 }
		case ">=":
			cmp = func(c int) bool { return c >= 0 }
		default:
			return nil, fmt.Errorf("%s does not support %s", field, op.text)
		}
		return func(f *file, _ *Server) bool { return cmp(get(f).Compare(tv)) }, nil
	}
	return nil, fmt.Errorf("unsupported query term %q", field)
}

// fieldSel is a parsed partial-response selector ("fields" parameter):
// nil means "everything" at that level.
type fieldSel map[string]fieldSel

// parseFields parses e.g. "nextPageToken,files(id,name,parents)" or
// "files/id". "*" selects everything.
func parseFields(s string) (fieldSel, error) {
	p := &fieldParser{s: s}
	sel, err := p.list()
	if err != nil {
		return nil, err
	}
	if p.i != len(p.s) {
		return nil, fmt.Errorf("unexpected %q at %d", p.s[p.i:], p.i)
	}
	return sel, nil
}

type fieldParser struct {
	s string
	i int
}

func (p *fieldParser) list() (fieldSel, error) {
	sel := fieldSel{}
	for {
		for p.i < len(p.s) && p.s[p.i] == ' ' {
			p.i++
		}
		start := p.i
		for p.i < len(p.s) && strings.IndexByte(",()/", p.s[p.i]) < 0 {
			p.i++
		}
		name := strings.TrimSpace(p.s[start:p.i])
		if name == "" {
			return nil, fmt.Errorf("empty field name at %d", start)
		}
		var sub fieldSel
		if p.i < len(p.s) && p.s[p.i] == '(' {
			p.i++
			var err error
			if sub, err = p.list(); err != nil {
				return nil, err
			}
			if p.i >= len(p.s) || p.s[p.i] != ')' {
				return nil, fmt.Errorf("missing ')'")
			}
			p.i++
		} else if p.i < len(p.s) && p.s[p.i] == '/' {
			p.i++
			start := p.i
			for p.i < len(p.s) && strings.IndexByte(",()", p.s[p.i]) < 0 {
				p.i++
			}
			inner, err := parseFields(p.s[start:p.i])
			if err != nil {
				return nil, err
			}
			sub = inner
		}
		if prev, ok := sel[name]; ok && prev != nil && sub != nil {
			for k, v := range sub {
				prev[k] = v
			}
		} else {
			sel[name] = sub
		}
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			continue
		}
		return sel, nil
	}
}

// apply keeps the selected keys of v (a JSON-like value), recursively;
// lists apply the selector to each element. Unknown names are errors, as
// Drive answers 400 "Invalid field selection".
func (sel fieldSel) apply(v any, known func(path string) bool, path string) (any, error) {
	if sel == nil {
		return v, nil
	}
	if _, all := sel["*"]; all {
		return v, nil
	}
	switch x := v.(type) {
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			o, err := sel.apply(e, known, path)
			if err != nil {
				return nil, err
			}
			out = append(out, o)
		}
		return out, nil
	case map[string]any:
		out := map[string]any{}
		for name, sub := range sel {
			p := name
			if path != "" {
				p = path + "." + name
			}
			if !known(p) {
				return nil, fmt.Errorf("invalid field selection %s", name)
			}
			val, ok := x[name]
			if !ok {
				continue
			}
			o, err := sub.apply(val, known, p)
			if err != nil {
				return nil, err
			}
			out[name] = o
		}
		return out, nil
	}
	return v, nil
}
