package ledger

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/shopspring/decimal"
)

// Amount is an exact decimal. It travels as a JSON string ("1234.50"), never a number.
type Amount = decimal.Decimal

// Bounds of what the ledger reads as money. A line holds at most 15 digits before the
// point, so its book amount stays below 10^15 and the largest entry (MaxLines lines) below
// 10^18. The feature store keeps amounts as DECIMAL(38,6), 32 digits before the point, so a
// sum overflows there only past 10^17 lines at the bound: about 30,000 years at 100,000
// lines a second. Postgres numeric and Go decimals are unbounded. Rates have at most 6
// digits before the point and 12 after, so amount times rate is exact in 33 digits before
// it is rounded, and the rounded book amount is held to the amount bound too.
const (
	MaxAmountIntegerDigits  = 15
	MaxAmountFractionDigits = 6
	MaxRateIntegerDigits    = 6
	MaxRateFractionDigits   = 12
	// maxBalanceIntegerDigits bounds the amounts the ledger computes rather than reads: a
	// year-end closing line is an account's balance. It is what DECIMAL(38,6) holds.
	maxBalanceIntegerDigits = 32
)

// minorUnits is ISO 4217's number of decimal places per currency.
var minorUnits = map[string]int32{
	"AED": 2, "ARS": 2, "AUD": 2, "BGN": 2, "BHD": 3, "BRL": 2, "CAD": 2, "CHF": 2, "CLP": 0,
	"CNY": 2, "COP": 2, "CZK": 2, "DKK": 2, "EGP": 2, "EUR": 2, "GBP": 2, "HKD": 2, "HUF": 2,
	"IDR": 2, "ILS": 2, "INR": 2, "ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0, "KWD": 3, "MAD": 2,
	"MXN": 2, "MYR": 2, "NGN": 2, "NOK": 2, "NZD": 2, "OMR": 3, "PHP": 2, "PKR": 2, "PLN": 2,
	"QAR": 2, "RON": 2, "RSD": 2, "SAR": 2, "SEK": 2, "SGD": 2, "THB": 2, "TND": 3, "TRY": 2,
	"TWD": 2, "UAH": 2, "USD": 2, "VND": 0, "ZAR": 2,
}

// MinorUnits returns the currency's decimal places; ok is false for an unknown code.
func MinorUnits(currency string) (int32, bool) {
	n, ok := minorUnits[currency]
	return n, ok
}

// plainDecimal is the only syntax the ledger reads: digits, optionally a point and more
// digits. No sign, exponent, spaces, separators, or a point without digits on both sides.
var plainDecimal = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

// decimalBounds is how many digits a decimal may have on each side of the point.
type decimalBounds struct {
	integerDigits, fractionDigits int
	example                       string
}

var (
	amountBounds  = decimalBounds{MaxAmountIntegerDigits, MaxAmountFractionDigits, `"1234.50"`}
	rateBounds    = decimalBounds{MaxRateIntegerDigits, MaxRateFractionDigits, `"1.0842"`}
	balanceBounds = decimalBounds{maxBalanceIntegerDigits, MaxAmountFractionDigits, `"1234.50"`}
)

// ParseAmount reads an amount as a client writes it: a plain decimal such as "1234.50",
// at most MaxAmountIntegerDigits digits before the point and MaxAmountFractionDigits after.
func ParseAmount(s string) (Amount, error) { return parseDecimal(s, amountBounds) }

// ParseRate reads an exchange rate such as "1.0842" within the rate bounds.
func ParseRate(s string) (Amount, error) { return parseDecimal(s, rateBounds) }

func parseDecimal(s string, b decimalBounds) (Amount, error) {
	if s == "" {
		return Amount{}, fmt.Errorf("is empty; write a decimal such as %s", b.example)
	}
	if rest, neg := strings.CutPrefix(s, "-"); neg && plainDecimal.MatchString(rest) {
		return Amount{}, fmt.Errorf("%s must be greater than zero; write it without a sign", clip(s))
	}
	if !plainDecimal.MatchString(s) {
		return Amount{}, fmt.Errorf("%s is not a plain decimal; write digits with an optional point and digits after it, such as %s (no sign, exponent, spaces or separators)",
			clip(s), b.example)
	}
	whole, frac, _ := strings.Cut(s, ".")
	switch {
	case len(whole) > 1 && whole[0] == '0':
		return Amount{}, fmt.Errorf("%s has a leading zero; write it as %s", clip(s), strings.TrimLeft(whole, "0")+dotFrac(frac))
	case len(whole) > b.integerDigits:
		return Amount{}, fmt.Errorf("%s has %d digits before the point; at most %d are allowed", clip(s), len(whole), b.integerDigits)
	case len(frac) > b.fractionDigits:
		return Amount{}, fmt.Errorf("%s has %d digits after the point; at most %d are allowed", clip(s), len(frac), b.fractionDigits)
	}
	return decimal.NewFromString(s)
}

func dotFrac(frac string) string {
	if frac == "" {
		return ""
	}
	return "." + frac
}

// readAmount reads a decimal the database computed (a sum, a balance). It has no bound:
// only input is bounded, and an error here is a fault, never a zero.
func readAmount(s string) (Amount, error) {
	d, err := decimal.NewFromString(s)
	if err != nil {
		return Amount{}, fmt.Errorf("read stored amount %s: %w", clip(s), err)
	}
	return d, nil
}

// fitsDigits says whether d has at most n digits before the point.
func fitsDigits(d Amount, n int) bool {
	return d.Abs().LessThan(decimal.New(1, int32(n)))
}

// checkScale says whether d fits the currency's minor units.
func checkScale(d Amount, currency string) error {
	mu, ok := MinorUnits(currency)
	if !ok {
		return fmt.Errorf("currency %q is not an ISO 4217 code this ledger knows", clip(currency))
	}
	// "1.50" written with more zeros ("1.5000") is still exact in cents: compare the value.
	if !d.Equal(d.Truncate(mu)) {
		return fmt.Errorf("%s has more than %d decimal places for %s", d.String(), mu, currency)
	}
	return nil
}

// FormatAmount renders d with exactly the currency's minor units ("100" EUR -> "100.00").
func FormatAmount(d Amount, currency string) string {
	mu, ok := MinorUnits(currency)
	if !ok {
		return d.String()
	}
	return d.StringFixed(mu)
}

var decimalOne = decimal.NewFromInt(1)
