package ledger

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/codexion/codexion/governance/access"
	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/auth"
	"github.com/codexion/codexion/platform/httpx"
	"github.com/codexion/codexion/platform/idempotency"
)

// Who may do what. Admin may do everything.
var (
	readers     = httpx.Roles(access.RoleFinance, access.RoleFinanceController, access.RoleCompliance, access.RoleAdmin)
	posters     = httpx.Roles(access.RoleFinance, access.RoleFinanceController, access.RoleAdmin)
	controllers = httpx.Roles(access.RoleFinanceController, access.RoleAdmin)
)

// Handler serves the ledger API.
type Handler struct {
	store *Store
	log   *slog.Logger
}

// NewHandler returns the ledger's HTTP handlers over store.
func NewHandler(store *Store, log *slog.Logger) *Handler {
	return &Handler{store: store, log: log}
}

// Routes registers every ledger route with its roles.
func (h *Handler) Routes(r *httpx.Router) {
	r.HandleFunc("POST /v1/ledger/books", controllers, h.wrap(h.createBook))
	r.HandleFunc("GET /v1/ledger/books", readers, h.wrap(h.listBooks))
	r.HandleFunc("POST /v1/ledger/accounts", controllers, h.wrap(h.createAccount))
	r.HandleFunc("GET /v1/ledger/accounts", readers, h.wrap(h.listAccounts))
	r.HandleFunc("GET /v1/ledger/accounts/{code}", readers, h.wrap(h.getAccount))
	r.HandleFunc("POST /v1/ledger/accounts/{code}/close", controllers, h.wrap(h.closeAccount))
	r.HandleFunc("POST /v1/ledger/entries", posters, h.wrap(h.postEntry))
	r.HandleFunc("POST /v1/ledger/entries:batch", posters, h.wrap(h.postBatch))
	r.HandleFunc("GET /v1/ledger/entries", readers, h.wrap(h.listEntries))
	r.HandleFunc("GET /v1/ledger/entries/{id}", readers, h.wrap(h.getEntry))
	r.HandleFunc("POST /v1/ledger/entries/{id}/reverse", controllers, h.wrap(h.reverse))
	r.HandleFunc("POST /v1/ledger/rates", posters, h.wrap(h.putRate))
	r.HandleFunc("GET /v1/ledger/trial-balance", readers, h.wrap(h.trialBalance))
	r.HandleFunc("GET /v1/ledger/reports/balance-sheet", readers, h.wrap(h.balanceSheet))
	r.HandleFunc("GET /v1/ledger/reports/income-statement", readers, h.wrap(h.incomeStatement))
	r.HandleFunc("GET /v1/ledger/reports/general-ledger", readers, h.wrap(h.generalLedger))
	r.HandleFunc("POST /v1/ledger/periods/{period}/close", controllers, h.wrap(h.closePeriod))
	r.HandleFunc("POST /v1/ledger/periods/{period}/reopen", controllers, h.wrap(h.reopenPeriod))
}

// wrap turns a handler that returns its error into one that writes it as problem+json.
func (h *Handler) wrap(fn httpx.HandlerFunc) http.HandlerFunc {
	return httpx.Adapter(httpx.Problems(h.log))(fn)
}

func actor(r *http.Request) string {
	p, _ := auth.PrincipalFrom(r.Context())
	return p.Subject
}

// readWrite reads a write's body and its idempotency key. The key is the caller's own,
// for this route; its request hash covers the path values, ?book= and the exact body bytes.
func readWrite(r *http.Request, v any) (*idempotency.Key, error) {
	body, err := httpx.ReadJSONBody(r)
	if err != nil {
		return nil, err
	}
	if v != nil && (len(body) > 0 || r.ContentLength != 0) {
		if err := httpx.DecodeJSONBytes(body, v); err != nil {
			return nil, err
		}
	}
	k, ok, err := idempotency.FromRequest(r, body, "book")
	if err != nil || !ok {
		return nil, err
	}
	return &k, nil
}

// writeResult answers with v, or with stored, v as its idempotency key stored it, when
// there is one: the same bytes, not marshalled again.
func writeResult(w http.ResponseWriter, status int, replayed bool, v any, stored []byte) {
	if replayed {
		w.Header().Set(idempotency.ReplayedHeader, "true")
	}
	if stored != nil {
		httpx.WriteJSONBytes(w, status, stored)
		return
	}
	httpx.WriteJSON(w, status, v)
}

// List is a page of items.
type List[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// page reads ?cursor= and ?limit=. Cursors are codes or sequence numbers, never free text.
func page(r *http.Request) (Page, error) {
	q := r.URL.Query()
	p := Page{Cursor: q.Get("cursor")}
	if p.Cursor != "" && !ValidCode(p.Cursor) {
		return p, badCode("cursor", p.Cursor)
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxPageSize {
			return p, platform.Invalid("limit %s must be a whole number from 1 to %d", clip(l), MaxPageSize)
		}
		p.Limit = n
	}
	return p, nil
}

func requireBook(r *http.Request) (string, error) {
	b := r.URL.Query().Get("book")
	if b == "" {
		return "", platform.Invalid("query parameter book is required (e.g. ?book=acme)")
	}
	if !ValidCode(b) {
		return "", badCode("book", b)
	}
	return b, nil
}

// codeParam reads an optional code from the query (required: from the path).
func codeParam(r *http.Request, name string, fromPath bool) (string, error) {
	s := r.URL.Query().Get(name)
	if fromPath {
		s = r.PathValue(name)
	}
	if (s != "" || fromPath) && !ValidCode(s) {
		return "", badCode(name, s)
	}
	return s, nil
}

// dateParam reads a YYYY-MM-DD query parameter; def is used when it is absent.
func dateParam(r *http.Request, name string, def time.Time) (time.Time, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	d, err := parseDate(s)
	if err != nil {
		return time.Time{}, &platform.Error{Kind: platform.CodeInvalid.Kind, Code: platform.CodeInvalid.Code,
			Message: "query parameter " + name + ": " + err.Error(), Fields: []platform.FieldError{{Field: name, Message: err.Error()}}}
	}
	return d, nil
}

// bookAsOf reads the required ?book= and ?as_of= (default today) of a report.
func bookAsOf(r *http.Request) (string, time.Time, error) {
	book, err := requireBook(r)
	if err != nil {
		return "", time.Time{}, err
	}
	asOf, err := dateParam(r, "as_of", today())
	return book, asOf, err
}

func today() time.Time {
	now := time.Now().UTC()
	return time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
}

func (h *Handler) createBook(w http.ResponseWriter, r *http.Request) error {
	var in BookInput
	if _, err := readWrite(r, &in); err != nil {
		return err
	}
	b, err := h.store.CreateBook(r.Context(), in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/ledger/books?cursor=&book="+b.Code)
	httpx.WriteJSON(w, http.StatusCreated, b)
	return nil
}

func (h *Handler) listBooks(w http.ResponseWriter, r *http.Request) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	books, next, err := h.store.ListBooks(r.Context(), p)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, List[Book]{Items: books, NextCursor: next})
	return nil
}

func (h *Handler) createAccount(w http.ResponseWriter, r *http.Request) error {
	var in AccountInput
	if _, err := readWrite(r, &in); err != nil {
		return err
	}
	a, err := h.store.CreateAccount(r.Context(), in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/ledger/accounts/"+a.Code+"?book="+a.Book)
	httpx.WriteJSON(w, http.StatusCreated, a)
	return nil
}

func (h *Handler) listAccounts(w http.ResponseWriter, r *http.Request) error {
	book, err := requireBook(r)
	if err != nil {
		return err
	}
	p, err := page(r)
	if err != nil {
		return err
	}
	accs, next, err := h.store.ListAccounts(r.Context(), book, p)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, List[Account]{Items: accs, NextCursor: next})
	return nil
}

func (h *Handler) getAccount(w http.ResponseWriter, r *http.Request) error {
	book, err := requireBook(r)
	if err != nil {
		return err
	}
	asOf, err := dateParam(r, "as_of", time.Time{})
	if err != nil {
		return err
	}
	code, err := codeParam(r, "code", true)
	if err != nil {
		return err
	}
	a, err := h.store.GetAccount(r.Context(), book, code, asOf)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, a)
	return nil
}

func (h *Handler) closeAccount(w http.ResponseWriter, r *http.Request) error {
	book, err := requireBook(r)
	if err != nil {
		return err
	}
	if _, err := readWrite(r, nil); err != nil {
		return err
	}
	code, err := codeParam(r, "code", true)
	if err != nil {
		return err
	}
	a, err := h.store.CloseAccount(r.Context(), book, code)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, a)
	return nil
}

func (h *Handler) postEntry(w http.ResponseWriter, r *http.Request) error {
	var in EntryInput
	key, err := readWrite(r, &in)
	if err != nil {
		return err
	}
	res, err := h.store.Post(r.Context(), in, actor(r), key)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/ledger/entries/"+res.Entry.ID)
	writeResult(w, http.StatusCreated, res.Replayed, res.Entry, res.body)
	return nil
}

// logFailures logs the causes of a batch's unexpected failures, which its body leaves out.
func (h *Handler) logFailures(ctx context.Context, res *BatchResult) {
	for _, it := range res.Results {
		if it.cause != nil {
			h.log.ErrorContext(ctx, "internal error in a batch entry", "index", it.Index, "err", it.cause)
		}
	}
}

func (h *Handler) postBatch(w http.ResponseWriter, r *http.Request) error {
	var in BatchInput
	key, err := readWrite(r, &in)
	if err != nil {
		return err
	}
	res, err := h.store.PostBatch(r.Context(), in, actor(r), key)
	if err != nil {
		return err
	}
	h.logFailures(r.Context(), res)
	status := http.StatusOK
	if in.Atomic {
		status = http.StatusCreated
	}
	writeResult(w, status, res.Replayed, res, res.body)
	return nil
}

func (h *Handler) getEntry(w http.ResponseWriter, r *http.Request) error {
	e, err := h.store.GetEntry(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, e)
	return nil
}

func (h *Handler) listEntries(w http.ResponseWriter, r *http.Request) error {
	book, err := requireBook(r)
	if err != nil {
		return err
	}
	p, err := page(r)
	if err != nil {
		return err
	}
	f := EntryFilter{Book: book}
	if f.Account, err = codeParam(r, "account", false); err != nil {
		return err
	}
	if f.From, err = dateParam(r, "from", time.Time{}); err != nil {
		return err
	}
	if f.To, err = dateParam(r, "to", time.Time{}); err != nil {
		return err
	}
	entries, next, err := h.store.ListEntries(r.Context(), f, p)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, List[Entry]{Items: entries, NextCursor: next})
	return nil
}

func (h *Handler) reverse(w http.ResponseWriter, r *http.Request) error {
	var in ReverseInput
	key, err := readWrite(r, &in)
	if err != nil {
		return err
	}
	res, err := h.store.Reverse(r.Context(), r.PathValue("id"), in, actor(r), key)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/ledger/entries/"+res.Entry.ID)
	writeResult(w, http.StatusCreated, res.Replayed, res.Entry, res.body)
	return nil
}

func (h *Handler) putRate(w http.ResponseWriter, r *http.Request) error {
	var in RateInput
	if _, err := readWrite(r, &in); err != nil {
		return err
	}
	rate, err := h.store.PutRate(r.Context(), in)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, rate)
	return nil
}

func (h *Handler) trialBalance(w http.ResponseWriter, r *http.Request) error {
	book, err := requireBook(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	format, err := reportFormat(r)
	if err != nil {
		return err
	}
	var tb *TrialBalance
	switch {
	case q.Has("as_of") && (q.Has("from") || q.Has("to")):
		return platform.Invalid("give as_of, or a period with from and to, not both")
	case q.Has("from") || q.Has("to"):
		if !q.Has("from") || !q.Has("to") {
			return platform.Invalid("a period needs both from and to (YYYY-MM-DD)")
		}
		from, err := dateParam(r, "from", time.Time{})
		if err != nil {
			return err
		}
		to, err := dateParam(r, "to", time.Time{})
		if err != nil {
			return err
		}
		tb, err = h.store.PeriodTrialBalance(r.Context(), book, from, to)
		if err != nil {
			return err
		}
	default:
		asOf, err := dateParam(r, "as_of", today())
		if err != nil {
			return err
		}
		if tb, err = h.store.TrialBalance(r.Context(), book, asOf); err != nil {
			return err
		}
	}
	return writeReport(w, format, tb, tb.Sheet)
}

// xlsxType is the media type of an Excel workbook.
const xlsxType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

// reportFormat is json, csv or xlsx: ?format= if given, else what Accept asks for.
func reportFormat(r *http.Request) (string, error) {
	switch f := r.URL.Query().Get("format"); f {
	case "json", "csv", "xlsx":
		return f, nil
	case "":
	default:
		return "", platform.Invalid("format %q: use json, csv or xlsx", f)
	}
	accept := r.Header.Get("Accept")
	switch {
	case strings.Contains(accept, "application/json"):
		return "json", nil
	case strings.Contains(accept, "text/csv"):
		return "csv", nil
	case strings.Contains(accept, xlsxType):
		return "xlsx", nil
	}
	return "json", nil
}

// writeReport answers with the report v as JSON, or its sheet as a CSV or Excel download.
func writeReport(w http.ResponseWriter, format string, v any, sheet func() Sheet) error {
	if format == "json" {
		httpx.WriteJSON(w, http.StatusOK, v)
		return nil
	}
	s := sheet()
	var buf bytes.Buffer
	var err error
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		err = s.WriteCSV(&buf)
	} else {
		w.Header().Set("Content-Type", xlsxType)
		err = s.WriteXLSX(&buf)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Disposition", `attachment; filename="`+s.Name+"."+format+`"`)
	_, err = w.Write(buf.Bytes())
	return err
}

func (h *Handler) balanceSheet(w http.ResponseWriter, r *http.Request) error {
	book, asOf, err := bookAsOf(r)
	if err != nil {
		return err
	}
	format, err := reportFormat(r)
	if err != nil {
		return err
	}
	bs, err := h.store.BalanceSheet(r.Context(), book, asOf)
	if err != nil {
		return err
	}
	return writeReport(w, format, bs, bs.Sheet)
}

func (h *Handler) incomeStatement(w http.ResponseWriter, r *http.Request) error {
	book, err := requireBook(r)
	if err != nil {
		return err
	}
	to, err := dateParam(r, "to", today())
	if err != nil {
		return err
	}
	from, err := dateParam(r, "from", time.Date(to.Year(), 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		return err
	}
	format, err := reportFormat(r)
	if err != nil {
		return err
	}
	is, err := h.store.IncomeStatement(r.Context(), book, from, to)
	if err != nil {
		return err
	}
	return writeReport(w, format, is, is.Sheet)
}

func (h *Handler) generalLedger(w http.ResponseWriter, r *http.Request) error {
	book, err := requireBook(r)
	if err != nil {
		return err
	}
	account, err := codeParam(r, "account", false)
	if err != nil {
		return err
	}
	if account == "" {
		return platform.Invalid("query parameter account is required")
	}
	p, err := page(r)
	if err != nil {
		return err
	}
	from, err := dateParam(r, "from", time.Time{})
	if err != nil {
		return err
	}
	to, err := dateParam(r, "to", today())
	if err != nil {
		return err
	}
	format, err := reportFormat(r)
	if err != nil {
		return err
	}
	if format != "json" { // a download holds every line, not a page
		gl, err := h.store.WholeGeneralLedger(r.Context(), book, account, from, to)
		if err != nil {
			return err
		}
		return writeReport(w, format, gl, gl.Sheet)
	}
	gl, err := h.store.GeneralLedger(r.Context(), book, account, from, to, p)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, gl)
	return nil
}

func (h *Handler) closePeriod(w http.ResponseWriter, r *http.Request) error {
	book, err := requireBook(r)
	if err != nil {
		return err
	}
	key, err := readWrite(r, nil)
	if err != nil {
		return err
	}
	p, err := h.store.ClosePeriod(r.Context(), book, r.PathValue("period"), actor(r), key)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, p)
	return nil
}

// ReopenInput carries the reason for reopening a period.
type ReopenInput struct {
	Reason string `json:"reason"`
}

func (h *Handler) reopenPeriod(w http.ResponseWriter, r *http.Request) error {
	book, err := requireBook(r)
	if err != nil {
		return err
	}
	var in ReopenInput
	if _, err := readWrite(r, &in); err != nil {
		return err
	}
	p, err := h.store.ReopenPeriod(r.Context(), book, r.PathValue("period"), in.Reason, actor(r))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, p)
	return nil
}
