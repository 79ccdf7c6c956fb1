package ledger

import (
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
)

// Amount is an exact decimal. It travels as a JSON string ("1234.50"), never a number.
type Amount = decimal.Decimal

// maxAmountDigits bounds an amount's length; no ledger needs more.
const maxAmountDigits = 30

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

// ParseAmount reads a positive exact decimal such as "1234.50".
func ParseAmount(s string) (Amount, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Amount{}, fmt.Errorf("is empty; write an amount such as \"100.00\"")
	}
	if len(s) > maxAmountDigits+2 || strings.ContainsAny(s, "eE") {
		return Amount{}, fmt.Errorf("%q is not a plain decimal amount", s)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return Amount{}, fmt.Errorf("%q is not a decimal amount", s)
	}
	return d, nil
}

// checkScale says whether d fits the currency's minor units.
func checkScale(d Amount, currency string) error {
	mu, ok := MinorUnits(currency)
	if !ok {
		return fmt.Errorf("currency %q is not an ISO 4217 code this ledger knows", currency)
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
