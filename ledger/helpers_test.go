package ledger

import (
	"errors"
	"time"

	"github.com/codexion/codexion/platform"
)

var zeroTime time.Time

func asPlatform(err error, pe **platform.Error) bool { return errors.As(err, pe) }

func mustDate(s string) time.Time {
	d, err := time.Parse(DateLayout, s)
	if err != nil {
		panic(err)
	}
	return d
}
