package models

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MLflow's search filter grammar: clauses joined by AND, each an identifier, a comparator
// and a value.
//
//	metrics.auc > 0.8 and params.lr = '0.1' and tags.team = 'risk' and attributes.status = 'FINISHED'
//	tags.`team name` LIKE 'ri%' and run_id IN ('a1', 'b2') and tags.owner IS NULL
//
// The parser knows nothing of tables: it yields clauses, and each search maps them to SQL
// with bound arguments (never spliced text) and refuses what its entity does not have.

// Entity types an identifier names.
const (
	EntityMetric    = "metric"
	EntityParam     = "parameter"
	EntityTag       = "tag"
	EntityAttribute = "attribute"
	EntityDataset   = "dataset"
)

// MaxFilterBytes bounds a filter string; MaxFilterClauses bounds its clauses.
const (
	MaxFilterBytes   = 16384
	MaxFilterClauses = 64
	maxInValues      = 1000
)

// Clause is one comparison of a filter.
type Clause struct {
	Type       string // EntityMetric, EntityParam, ...
	Key        string
	Comparator string   // =, !=, >, >=, <, <=, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL
	Value      string   // the literal's text (numbers as written)
	Number     *float64 // set when the literal is a number
	Values     []string // IN and NOT IN
}

var entityPrefixes = map[string]string{
	"metric": EntityMetric, "metrics": EntityMetric,
	"parameter": EntityParam, "parameters": EntityParam, "param": EntityParam, "params": EntityParam,
	"tag": EntityTag, "tags": EntityTag,
	"attribute": EntityAttribute, "attributes": EntityAttribute, "attr": EntityAttribute, "run": EntityAttribute,
	"dataset": EntityDataset, "datasets": EntityDataset,
}

type tokenKind int

const (
	tokIdent tokenKind = iota
	tokString
	tokNumber
	tokOp
	tokLParen
	tokRParen
	tokComma
)

type token struct {
	kind tokenKind
	text string
	pos  int
	// quoted identifier parts: the key after a prefix may be backquoted or double-quoted
	quoted bool
	// whole is a backquoted name standing alone (`metrics.a` names an attribute "metrics.a",
	// as MLflow reads it); a backquoted prefix followed by a key (`metrics`.a) is not.
	whole bool
}

func filterError(filter string, pos int, format string, args ...any) error {
	return CodeBadFilter.New("Invalid filter %q at character %d: %s", truncate(filter), pos+1, fmt.Sprintf(format, args...))
}

func lex(filter string) ([]token, error) {
	var out []token
	i := 0
	for i < len(filter) {
		r, w := utf8.DecodeRuneInString(filter[i:])
		switch {
		case unicode.IsSpace(r):
			i += w
		case r == '(':
			out = append(out, token{kind: tokLParen, text: "(", pos: i})
			i++
		case r == ')':
			out = append(out, token{kind: tokRParen, text: ")", pos: i})
			i++
		case r == ',':
			out = append(out, token{kind: tokComma, text: ",", pos: i})
			i++
		case r == '\'' || r == '"' || r == '`':
			end := strings.IndexRune(filter[i+1:], r)
			if end < 0 {
				return nil, filterError(filter, i, "the quote %c is never closed", r)
			}
			text := filter[i+1 : i+1+end]
			kind := tokString
			if r == '`' {
				kind = tokIdent
			}
			next := i + end + 2
			if r == '`' && next < len(filter) && filter[next] == '.' {
				// `metrics`.auc: a backquoted prefix and its key
				t, j, err := lexIdent(filter, next+1)
				if err != nil {
					return nil, err
				}
				out = append(out, token{kind: tokIdent, text: text + "." + t.text, pos: i, quoted: true})
				i = j
				continue
			}
			out = append(out, token{kind: kind, text: text, pos: i, quoted: true, whole: r == '`'})
			i = next
		case strings.ContainsRune("=!<>", r):
			j := i + 1
			if j < len(filter) && filter[j] == '=' {
				j++
			}
			op := filter[i:j]
			if op == "!" {
				return nil, filterError(filter, i, "'!' must be followed by '='")
			}
			out = append(out, token{kind: tokOp, text: op, pos: i})
			i = j
		case r == '-' || r == '+' || r == '.' || unicode.IsDigit(r):
			j := i + 1
			for j < len(filter) && (filter[j] == '.' || filter[j] == 'e' || filter[j] == 'E' || unicode.IsDigit(rune(filter[j])) ||
				((filter[j] == '-' || filter[j] == '+') && (filter[j-1] == 'e' || filter[j-1] == 'E'))) {
				j++
			}
			out = append(out, token{kind: tokNumber, text: filter[i:j], pos: i})
			i = j
		case r == '_' || unicode.IsLetter(r):
			t, j, err := lexIdent(filter, i)
			if err != nil {
				return nil, err
			}
			out = append(out, t)
			i = j
		default:
			return nil, filterError(filter, i, "unexpected character %q", r)
		}
	}
	return out, nil
}

// lexIdent reads a name from i: letters, digits and _ . - : /, where a prefix may be
// followed by a quoted key (tags."team name", metrics.`f1 score`).
func lexIdent(filter string, i int) (token, int, error) {
	j := i
	for j < len(filter) {
		r, w := utf8.DecodeRuneInString(filter[j:])
		if r == '_' || r == '.' || r == '-' || r == ':' || r == '/' || unicode.IsLetter(r) || unicode.IsDigit(r) {
			j += w
			continue
		}
		if (r == '"' || r == '`') && filter[j-1] == '.' {
			end := strings.IndexRune(filter[j+1:], r)
			if end < 0 {
				return token{}, 0, filterError(filter, j, "the quote %c is never closed", r)
			}
			return token{kind: tokIdent, text: filter[i:j] + filter[j+1:j+1+end], pos: i, quoted: true}, j + end + 2, nil
		}
		break
	}
	return token{kind: tokIdent, text: filter[i:j], pos: i}, j, nil
}

// ParseFilter parses an MLflow search filter. An empty filter is no clauses.
func ParseFilter(filter string) ([]Clause, error) {
	if strings.TrimSpace(filter) == "" {
		return nil, nil
	}
	if len(filter) > MaxFilterBytes {
		return nil, CodeBadFilter.New("filter is %d bytes; the limit is %d", len(filter), MaxFilterBytes)
	}
	toks, err := lex(filter)
	if err != nil {
		return nil, err
	}
	p := &filterParser{filter: filter, toks: toks}
	var out []Clause
	for {
		c, err := p.clause()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
		if len(out) > MaxFilterClauses {
			return nil, CodeBadFilter.New("filter has more than %d clauses", MaxFilterClauses)
		}
		if p.done() {
			return out, nil
		}
		t := p.next()
		if t.kind != tokIdent || t.quoted || !strings.EqualFold(t.text, "and") {
			if t.kind == tokIdent && strings.EqualFold(t.text, "or") {
				return nil, filterError(filter, t.pos, "OR is not supported; clauses are joined by AND")
			}
			return nil, filterError(filter, t.pos, "expected AND between clauses, found %q", t.text)
		}
		if p.done() {
			return nil, filterError(filter, len(filter)-1, "AND must be followed by a clause")
		}
	}
}

type filterParser struct {
	filter string
	toks   []token
	i      int
}

func (p *filterParser) done() bool { return p.i >= len(p.toks) }

func (p *filterParser) next() token {
	t := p.toks[p.i]
	p.i++
	return t
}

func (p *filterParser) peekWord(word string) bool {
	return !p.done() && p.toks[p.i].kind == tokIdent && !p.toks[p.i].quoted && strings.EqualFold(p.toks[p.i].text, word)
}

func (p *filterParser) end() int {
	if p.done() {
		return len(p.filter) - 1
	}
	return p.toks[p.i].pos
}

func (p *filterParser) clause() (Clause, error) {
	if p.done() {
		return Clause{}, filterError(p.filter, p.end(), "expected a clause")
	}
	t := p.next()
	if t.kind != tokIdent {
		return Clause{}, filterError(p.filter, t.pos, "expected an identifier such as metrics.auc, params.lr or tags.team, found %q", t.text)
	}
	c, err := identifier(p.filter, t)
	if err != nil {
		return Clause{}, err
	}
	if p.done() {
		return Clause{}, filterError(p.filter, p.end(), "%s needs a comparator and a value", t.text)
	}
	op := p.next()
	switch {
	case op.kind == tokOp:
		c.Comparator = op.text
	case op.kind == tokIdent && !op.quoted:
		switch w := strings.ToUpper(op.text); w {
		case "LIKE", "ILIKE", "IN":
			c.Comparator = w
		case "NOT":
			if !p.peekWord("in") {
				return Clause{}, filterError(p.filter, p.end(), "NOT must be followed by IN")
			}
			p.next()
			c.Comparator = "NOT IN"
		case "IS":
			c.Comparator = "IS NULL"
			if p.peekWord("not") {
				p.next()
				c.Comparator = "IS NOT NULL"
			}
			if !p.peekWord("null") {
				return Clause{}, filterError(p.filter, p.end(), "IS must be followed by NULL or NOT NULL")
			}
			p.next()
			return c, nil
		default:
			return Clause{}, filterError(p.filter, op.pos, "unknown comparator %q", op.text)
		}
	default:
		return Clause{}, filterError(p.filter, op.pos, "expected a comparator after %s, found %q", t.text, op.text)
	}
	if c.Comparator == "IN" || c.Comparator == "NOT IN" {
		return p.list(c)
	}
	if p.done() {
		return Clause{}, filterError(p.filter, p.end(), "%s %s needs a value", t.text, c.Comparator)
	}
	v := p.next()
	switch v.kind {
	case tokString:
		c.Value = v.text
	case tokNumber:
		n, err := strconv.ParseFloat(v.text, 64)
		if err != nil {
			return Clause{}, filterError(p.filter, v.pos, "%q is not a number", v.text)
		}
		c.Value, c.Number = v.text, &n
	default:
		return Clause{}, filterError(p.filter, v.pos, "expected a value (a number or a quoted string), found %q", v.text)
	}
	return c, nil
}

func (p *filterParser) list(c Clause) (Clause, error) {
	if p.done() || p.toks[p.i].kind != tokLParen {
		return Clause{}, filterError(p.filter, p.end(), "%s needs a parenthesised list of quoted values: %s ('a', 'b')", c.Comparator, c.Comparator)
	}
	p.next()
	for {
		if p.done() {
			return Clause{}, filterError(p.filter, p.end(), "the list is never closed")
		}
		v := p.next()
		if v.kind != tokString {
			return Clause{}, filterError(p.filter, v.pos, "values of %s must be quoted strings, found %q", c.Comparator, v.text)
		}
		c.Values = append(c.Values, v.text)
		if len(c.Values) > maxInValues {
			return Clause{}, filterError(p.filter, v.pos, "a list holds at most %d values", maxInValues)
		}
		if p.done() {
			return Clause{}, filterError(p.filter, p.end(), "the list is never closed")
		}
		sep := p.next()
		if sep.kind == tokRParen {
			return c, nil
		}
		if sep.kind != tokComma {
			return Clause{}, filterError(p.filter, sep.pos, "expected ',' or ')' in the list, found %q", sep.text)
		}
	}
}

// identifier splits "metrics.auc" into its entity type and key; a bare name is an attribute.
func identifier(filter string, t token) (Clause, error) {
	if t.whole {
		return Clause{Type: EntityAttribute, Key: t.text}, nil
	}
	prefix, key, dotted := strings.Cut(t.text, ".")
	if dotted {
		if typ, ok := entityPrefixes[strings.ToLower(prefix)]; ok {
			if key == "" {
				return Clause{}, filterError(filter, t.pos, "%s. needs a key", prefix)
			}
			return Clause{Type: typ, Key: key}, nil
		}
	}
	if t.quoted && !dotted {
		return Clause{}, filterError(filter, t.pos, "a quoted name needs a prefix: metrics.`%s`, params.`%s` or tags.`%s`", t.text, t.text, t.text)
	}
	if dotted {
		return Clause{}, filterError(filter, t.pos, "unknown prefix %q: use metrics., params., tags., attributes. or datasets.", prefix)
	}
	return Clause{Type: EntityAttribute, Key: t.text}, nil
}

// OrderBy is one term of order_by.
type OrderBy struct {
	Type string
	Key  string
	Desc bool
}

// ParseOrderBy parses one order_by term: "metrics.auc DESC", "start_time", "tags.`x y` ASC".
func ParseOrderBy(term string) (OrderBy, error) {
	toks, err := lex(term)
	if err != nil {
		return OrderBy{}, err
	}
	if len(toks) == 0 || len(toks) > 2 || toks[0].kind != tokIdent {
		return OrderBy{}, CodeBadFilter.New("Invalid order_by clause %q: use an identifier and an optional ASC or DESC, like 'metrics.auc DESC'", truncate(term))
	}
	c, err := identifier(term, toks[0])
	if err != nil {
		return OrderBy{}, err
	}
	o := OrderBy{Type: c.Type, Key: c.Key}
	if len(toks) == 2 {
		switch strings.ToUpper(toks[1].text) {
		case "ASC":
		case "DESC":
			o.Desc = true
		default:
			return OrderBy{}, CodeBadFilter.New("Invalid ordering key in order_by clause %q: use ASC or DESC", truncate(term))
		}
	}
	return o, nil
}
