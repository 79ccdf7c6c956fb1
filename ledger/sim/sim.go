// Package sim generates a small company's bookkeeping, deterministically from a seed, for
// demos and for the ML work that trains on it: sales invoices and customer payments,
// supplier bills and payments, payroll, rent, bank fees, seasonality, and a labelled handful
// of anomalous entries. It only generates; posting goes through the ledger API.
package sim

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/codexion/codexion/ledger"
)

// Options shape a simulation.
type Options struct {
	Book  string
	Start time.Time // first day
	Days  int
	Seed  uint64
	// AnomaliesPerDay is the mean number of extra labelled anomalies a day, of every kind
	// in AnomalyKinds (duplicated invoices, round amounts at odd hours, rare account pairs,
	// amounts far outside an account's range, postings to dormant accounts, weekend
	// postings). Zero keeps only the handful every simulation has. They are drawn from their
	// own stream, so the ordinary entries do not change with the rate.
	AnomaliesPerDay float64
}

// AnomalyKinds are the labelled anomalies a simulation can hold.
var AnomalyKinds = []string{"unusual_amount", "odd_hour", "rare_pair", "duplicate_invoice", "round_amount_odd_hour",
	"dormant_account", "weekend_posting"}

// MaxAnomaliesPerDay bounds the rate.
const MaxAnomaliesPerDay = 10

// Entry is one generated entry with its idempotency key and, for anomalies, the label.
type Entry struct {
	Key     string
	Input   ledger.EntryInput
	Anomaly string // "" or one of AnomalyKinds
}

// Bounds of a simulation.
const (
	MaxDays        = 3660
	customers      = 25
	suppliers      = 12
	vatRatePercent = 19
	maxRecentSales = 50 // invoices a duplicate may copy
)

type gen struct {
	o       Options
	rng     *rand.Rand
	arng    *rand.Rand // the extra anomalies' own stream
	sales   []Entry    // recent invoices, for duplicates
	out     []Entry
	pending map[int][]ledger.EntryInput // payments due on a day
}

// Generate returns the entries in posting order. The same options give the same entries.
func Generate(o Options) ([]Entry, error) {
	if o.Days < 1 || o.Days > MaxDays {
		return nil, fmt.Errorf("days %d: simulate 1 to %d days", o.Days, MaxDays)
	}
	if o.AnomaliesPerDay < 0 || o.AnomaliesPerDay > MaxAnomaliesPerDay || math.IsNaN(o.AnomaliesPerDay) {
		return nil, fmt.Errorf("anomalies per day %v: use 0 to %d", o.AnomaliesPerDay, MaxAnomaliesPerDay)
	}
	g := &gen{o: o, rng: rand.New(rand.NewPCG(o.Seed, 0x636f646578696f6e)), arng: rand.New(rand.NewPCG(o.Seed, 0x616e6f6d616c79)),
		pending: map[int][]ledger.EntryInput{}}
	// Anomaly days are drawn first so they do not depend on the number of days simulated.
	anomalies := map[int]string{}
	kinds := []string{"unusual_amount", "odd_hour", "rare_pair"}
	for i := range 6 {
		anomalies[1+g.rng.IntN(max(o.Days-1, 1))] = kinds[i%len(kinds)]
	}
	g.add(g.entry(0, "general", "OPEN", "Opening balance: share capital paid in", 9,
		line("1010", "50000.00", true, nil), line("3000", "50000.00", false, nil)), "")
	for d := range o.Days {
		date := o.Start.AddDate(0, 0, d)
		f := factor(date)
		for _, due := range g.pending[d] {
			g.add(due, "")
		}
		delete(g.pending, d)
		if date.Day() == 1 {
			g.add(g.entry(d, "bank", fmt.Sprintf("RENT-%s", date.Format("2006-01")), "Office rent", 9,
				line("6000", "2500.00", true, nil), line("1010", "2500.00", false, nil)), "")
		}
		if date.Day() == 28 {
			fee := cents(2500 + g.rng.IntN(3500))
			g.add(g.entry(d, "bank", fmt.Sprintf("FEES-%s", date.Format("2006-01")), "Bank fees", 23,
				line("6300", fee, true, nil), line("1010", fee, false, nil)), "")
		}
		if isLastBusinessDay(date) {
			pay := cents(1800000 + g.rng.IntN(60000))
			g.add(g.entry(d, "bank", fmt.Sprintf("PAY-%s", date.Format("2006-01")), "Payroll", 17,
				line("6100", pay, true, dim("cost_center", "ops")), line("1010", pay, false, nil)), "")
		}
		for i := range poisson(g.rng, 4*f) {
			g.sale(d, date, i, 1)
		}
		for i := range poisson(g.rng, 1.2*f) {
			g.bill(d, date, i)
		}
		if kind, ok := anomalies[d]; ok {
			g.anomaly(d, date, kind)
		}
		if o.AnomaliesPerDay > 0 {
			for range poisson(g.arng, o.AnomaliesPerDay) {
				g.extraAnomaly(d, date, AnomalyKinds[g.arng.IntN(len(AnomalyKinds))])
			}
		}
	}
	return g.out, nil
}

// extraAnomaly adds one labelled anomaly of kind on day d, drawn from the anomalies' stream.
func (g *gen) extraAnomaly(d int, date time.Time, kind string) {
	meta := func(hour int) map[string]any {
		return map[string]any{"simulated": true, "seed": g.o.Seed, "hour": hour, "anomaly": kind}
	}
	ref := fmt.Sprintf("X%s-%d", date.Format("20060102"), len(g.out))
	switch kind {
	case "unusual_amount": // a purchase a hundred times an account's usual size
		amt := cents(3000000 + g.arng.IntN(4000000))
		g.add(g.entryMeta(d, "purchases", "BILL-"+ref, "Bill from S001", meta(8+g.arng.IntN(10)),
			line("5000", amt, true, dim("counterparty", "S001")), line("2000", amt, false, dim("counterparty", "S001"))), kind)
	case "odd_hour":
		amt := cents(50000 + g.arng.IntN(200000))
		g.add(g.entryMeta(d, "general", "ADJ-"+ref, "Manual adjustment", meta(1+g.arng.IntN(4)),
			line("6900", amt, true, nil), line("1010", amt, false, nil)), kind)
	case "rare_pair":
		amt := cents(80000 + g.arng.IntN(120000))
		g.add(g.entryMeta(d, "general", "MISC-"+ref, "Equipment booked as service revenue", meta(10+g.arng.IntN(6)),
			line("1500", amt, true, nil), line("4100", amt, false, nil)), kind)
	case "duplicate_invoice": // an invoice posted again under another reference
		if len(g.sales) == 0 {
			return
		}
		orig := g.sales[g.arng.IntN(len(g.sales))].Input
		dup := g.entryMeta(d, orig.Journal, orig.Reference+"-DUP", orig.Description, meta(9+g.arng.IntN(8)), orig.Lines...)
		g.add(dup, kind)
	case "round_amount_odd_hour":
		amt := cents((5 + g.arng.IntN(45)) * 100000)
		g.add(g.entryMeta(d, "general", "ADJ-"+ref, "Transfer", meta(g.arng.IntN(5)),
			line("6900", amt, true, nil), line("1010", amt, false, nil)), kind)
	case "dormant_account": // depreciation, which nothing else in the simulation books
		amt := cents(20000 + g.arng.IntN(300000))
		g.add(g.entryMeta(d, "general", "MISC-"+ref, "Reclassification", meta(9+g.arng.IntN(8)),
			line("6500", amt, true, nil), line("1010", amt, false, nil)), kind)
	case "weekend_posting": // a bank payment on the next Saturday or Sunday
		off := (int(time.Saturday) - int(date.Weekday()) + 7) % 7
		day := min(d+off+g.arng.IntN(2), g.o.Days-1)
		amt := cents(100000 + g.arng.IntN(400000))
		g.add(g.entryMeta(day, "bank", "PAY-"+ref, "Payment", meta(10+g.arng.IntN(6)),
			line("6200", amt, true, nil), line("1010", amt, false, nil)), kind)
	}
}

func (g *gen) add(in ledger.EntryInput, anomaly string) {
	key := fmt.Sprintf("sim-%s-%d-%d", g.o.Book, g.o.Seed, len(g.out))
	g.out = append(g.out, Entry{Key: key, Input: in, Anomaly: anomaly})
}

func (g *gen) entry(day int, journal, ref, desc string, hour int, lines ...ledger.LineInput) ledger.EntryInput {
	return g.entryMeta(day, journal, ref, desc, map[string]any{"simulated": true, "seed": g.o.Seed, "hour": hour}, lines...)
}

func (g *gen) entryMeta(day int, journal, ref, desc string, meta map[string]any, lines ...ledger.LineInput) ledger.EntryInput {
	m, _ := json.Marshal(meta)
	return ledger.EntryInput{
		Book: g.o.Book, PostingDate: g.o.Start.AddDate(0, 0, day).Format(ledger.DateLayout),
		Journal: journal, Reference: ref, Description: desc, Metadata: m, Lines: lines,
	}
}

// sale books an invoice (receivable, revenue, VAT) and schedules the customer's payment.
func (g *gen) sale(d int, date time.Time, i int, scale float64) {
	customer := fmt.Sprintf("C%03d", 1+g.rng.IntN(customers))
	netCents := int(math.Round(math.Exp(g.rng.NormFloat64()*0.6+math.Log(80000)) * scale))
	netCents = max(netCents, 500)
	vat := netCents * vatRatePercent / 100
	gross := netCents + vat
	revenue := "4000"
	if g.rng.IntN(4) == 0 {
		revenue = "4100"
	}
	ref := fmt.Sprintf("INV-%s-%02d", date.Format("20060102"), i+1)
	cp := dim("counterparty", customer)
	g.add(g.entry(d, "sales", ref, "Invoice to "+customer, 9+g.rng.IntN(9),
		line("1200", cents(gross), true, cp), line(revenue, cents(netCents), false, cp), line("2200", cents(vat), false, nil)), "")
	if scale == 1 {
		g.sales = append(g.sales, g.out[len(g.out)-1])
		if len(g.sales) > maxRecentSales {
			g.sales = g.sales[1:]
		}
	}
	due := d + 14 + g.rng.IntN(32)
	if due < g.o.Days {
		g.pending[due] = append(g.pending[due], g.entry(due, "bank", "PMT-"+ref, "Payment from "+customer, 10+g.rng.IntN(6),
			line("1010", cents(gross), true, cp), line("1200", cents(gross), false, cp)))
	}
}

// bill books a supplier bill (expense, input VAT, payable) and schedules its payment.
func (g *gen) bill(d int, date time.Time, i int) {
	supplier := fmt.Sprintf("S%03d", 1+g.rng.IntN(suppliers))
	accounts := []string{"5000", "5000", "5000", "6200", "6400", "6600", "6900"}
	acc := accounts[g.rng.IntN(len(accounts))]
	netCents := max(int(math.Round(math.Exp(g.rng.NormFloat64()*0.7+math.Log(45000)))), 300)
	vat := netCents * vatRatePercent / 100
	gross := netCents + vat
	ref := fmt.Sprintf("BILL-%s-%02d", date.Format("20060102"), i+1)
	cp := dim("counterparty", supplier)
	g.add(g.entry(d, "purchases", ref, "Bill from "+supplier, 8+g.rng.IntN(10),
		line(acc, cents(netCents), true, cp), line("1400", cents(vat), true, nil), line("2000", cents(gross), false, cp)), "")
	due := d + 30
	if due < g.o.Days {
		g.pending[due] = append(g.pending[due], g.entry(due, "bank", "PAY-"+ref, "Payment to "+supplier, 11,
			line("2000", cents(gross), true, cp), line("1010", cents(gross), false, cp)))
	}
}

func (g *gen) anomaly(d int, date time.Time, kind string) {
	switch kind {
	case "unusual_amount":
		before := len(g.out)
		g.sale(d, date, 90, 40)
		g.relabel(before, kind)
	case "odd_hour":
		amt := cents(150000 + g.rng.IntN(200000))
		g.add(g.entryMeta(d, "general", fmt.Sprintf("ADJ-%s", date.Format("20060102")), "Manual adjustment",
			map[string]any{"simulated": true, "seed": g.o.Seed, "hour": 3, "anomaly": kind},
			line("6900", amt, true, nil), line("1010", amt, false, nil)), kind)
	case "rare_pair":
		amt := cents(80000 + g.rng.IntN(120000))
		g.add(g.entryMeta(d, "general", fmt.Sprintf("MISC-%s", date.Format("20060102")), "Equipment booked as service revenue",
			map[string]any{"simulated": true, "seed": g.o.Seed, "hour": 14, "anomaly": kind},
			line("1500", amt, true, nil), line("4100", amt, false, nil)), kind)
	}
}

// relabel marks entries added since index from as anomalies of kind.
func (g *gen) relabel(from int, kind string) {
	for i := from; i < len(g.out); i++ {
		var meta map[string]any
		_ = json.Unmarshal(g.out[i].Input.Metadata, &meta)
		meta["anomaly"] = kind
		g.out[i].Input.Metadata, _ = json.Marshal(meta)
		g.out[i].Anomaly = kind
	}
}

func line(account, amount string, debit bool, dims map[string]string) ledger.LineInput {
	a := amount
	l := ledger.LineInput{Account: account, Dimensions: dims}
	if debit {
		l.Debit = &a
	} else {
		l.Credit = &a
	}
	return l
}

func dim(k, v string) map[string]string { return map[string]string{k: v} }

func cents(n int) string { return fmt.Sprintf("%d.%02d", n/100, n%100) }

// factor is the day's activity: weekdays busy, weekends quiet, a yearly wave.
func factor(d time.Time) float64 {
	w := 1.0
	switch d.Weekday() {
	case time.Saturday:
		w = 0.3
	case time.Sunday:
		w = 0.1
	}
	return w * (1 + 0.25*math.Sin(2*math.Pi*float64(d.Month()-1)/12))
}

func isLastBusinessDay(d time.Time) bool {
	if d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
		return false
	}
	for n := d.AddDate(0, 0, 1); n.Month() == d.Month(); n = n.AddDate(0, 0, 1) {
		if n.Weekday() != time.Saturday && n.Weekday() != time.Sunday {
			return false
		}
	}
	return true
}

// poisson draws from a Poisson distribution with mean lambda (Knuth; lambda is small).
func poisson(rng *rand.Rand, lambda float64) int {
	l, k, p := math.Exp(-lambda), 0, 1.0
	for ; k < 100; k++ {
		p *= rng.Float64()
		if p <= l {
			break
		}
	}
	return k
}
