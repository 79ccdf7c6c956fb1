package ledgerclient

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/codexion/codexion/ledger"
	"github.com/codexion/codexion/platform/apiclient"
	"github.com/codexion/codexion/platform/idempotency"
)

// CSVColumns are the columns an import file must have, in any order. Rows with the same
// entry value, one after the other, form one entry.
var CSVColumns = []string{"entry", "posting_date", "journal", "reference", "description", "account", "debit", "credit", "currency", "memo"}

// Bounds of an import.
const (
	maxImportRows    = 1_000_000
	importBatchItems = ledger.MaxBatchEntries
)

// RowError is a problem on one line of the file.
type RowError struct {
	Line    int
	Message string
}

func (e RowError) String() string { return fmt.Sprintf("line %d: %s", e.Line, e.Message) }

// ImportResult counts what happened.
type ImportResult struct {
	Entries int
	Posted  int
	Errors  []RowError
}

type csvEntry struct {
	in    ledger.EntryInput
	line  int   // line of the entry's first row
	lines []int // line of each ledger line
}

// ParseCSV reads an import file into entries; problems name their line.
func ParseCSV(r io.Reader, book string) ([]csvEntry, []RowError) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, []RowError{{Line: 1, Message: "cannot read the header row: " + err.Error()}}
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(strings.ToLower(h))] = i
	}
	var missing []string
	for _, c := range CSVColumns {
		if _, ok := col[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, []RowError{{Line: 1, Message: "header lacks column(s) " + strings.Join(missing, ", ") + "; expected " + strings.Join(CSVColumns, ",")}}
	}
	var (
		out  []csvEntry
		errs []RowError
		cur  *csvEntry
		key  string
	)
	for n := 2; ; n++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if n > maxImportRows {
			errs = append(errs, RowError{Line: n, Message: fmt.Sprintf("file has more than %d rows; split it", maxImportRows)})
			break
		}
		if err != nil {
			errs = append(errs, RowError{Line: n, Message: err.Error()})
			continue
		}
		get := func(c string) string {
			if i := col[c]; i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		id := get("entry")
		if id == "" {
			errs = append(errs, RowError{Line: n, Message: "entry is empty; rows of one entry share an entry value"})
			continue
		}
		if cur == nil || id != key {
			out = append(out, csvEntry{line: n, in: ledger.EntryInput{Book: book, PostingDate: get("posting_date"),
				Journal: get("journal"), Reference: get("reference"), Description: get("description")}})
			cur, key = &out[len(out)-1], id
		}
		l := ledger.LineInput{Account: get("account"), Currency: get("currency"), Memo: get("memo")}
		if d := get("debit"); d != "" {
			l.Debit = &d
		}
		if c := get("credit"); c != "" {
			l.Credit = &c
		}
		cur.in.Lines = append(cur.in.Lines, l)
		cur.lines = append(cur.lines, n)
	}
	return out, errs
}

var lineField = regexp.MustCompile(`^(?:entries\[\d+\]\.)?lines\[(\d+)\]`)

// rowErrors maps an entry's API errors back to file lines.
func rowErrors(e csvEntry, code, detail string, fields []ledgerField) []RowError {
	if len(fields) == 0 {
		return []RowError{{Line: e.line, Message: fmt.Sprintf("%s: %s", code, detail)}}
	}
	var out []RowError
	for _, f := range fields {
		line := e.line
		if m := lineField.FindStringSubmatch(f.Field); m != nil {
			if i, _ := strconv.Atoi(m[1]); i < len(e.lines) {
				line = e.lines[i]
			}
		}
		out = append(out, RowError{Line: line, Message: f.Field + ": " + f.Message})
	}
	return out
}

type ledgerField struct{ Field, Message string }

// Import posts the file's entries through the batch endpoint. Atomic: all entries in one
// batch (at most ledger.MaxBatchEntries) or nothing. Otherwise each entry stands alone and
// the result lists every failed row. keyPrefix makes re-running an import replay it.
func (c *Client) Import(ctx context.Context, r io.Reader, book string, atomic bool, keyPrefix string) (ImportResult, error) {
	entries, errs := ParseCSV(r, book)
	res := ImportResult{Entries: len(entries), Errors: errs}
	if len(errs) > 0 {
		return res, nil // a file that does not parse posts nothing
	}
	if atomic && len(entries) > importBatchItems {
		return res, fmt.Errorf("an atomic import holds at most %d entries; this file has %d", importBatchItems, len(entries))
	}
	for start := 0; start < len(entries); start += importBatchItems {
		chunk := entries[start:min(start+importBatchItems, len(entries))]
		in := ledger.BatchInput{Atomic: atomic}
		for _, e := range chunk {
			in.Entries = append(in.Entries, e.in)
		}
		var out ledger.BatchResult
		_, err := c.Do(ctx, "POST", "/v1/ledger/entries:batch", in, &out, idempotency.Header, fmt.Sprintf("%s-%d", keyPrefix, start))
		var ae *apiclient.Error
		if errors.As(err, &ae) && ae.Status < 500 {
			// An atomic batch fails as a whole; its fields name the entry.
			idx := 0
			if m := regexp.MustCompile(`^entries\[(\d+)\]`).FindStringSubmatch(firstField(ae)); m != nil {
				idx, _ = strconv.Atoi(m[1])
			}
			res.Errors = append(res.Errors, rowErrors(chunk[min(idx, len(chunk)-1)], ae.Code, ae.Detail, toFields(ae))...)
			return res, nil
		}
		if err != nil {
			return res, err
		}
		res.Posted += out.Posted
		for i, item := range out.Results {
			if item.Error != nil {
				var fs []ledgerField
				for _, f := range item.Error.Errors {
					fs = append(fs, ledgerField{f.Field, f.Message})
				}
				res.Errors = append(res.Errors, rowErrors(chunk[i], item.Error.Code, item.Error.Detail, fs)...)
			}
		}
	}
	return res, nil
}

func firstField(ae *apiclient.Error) string {
	if len(ae.Fields) > 0 {
		return ae.Fields[0].Field
	}
	return ""
}

func toFields(ae *apiclient.Error) []ledgerField {
	var fs []ledgerField
	for _, f := range ae.Fields {
		fs = append(fs, ledgerField{f.Field, f.Message})
	}
	return fs
}
