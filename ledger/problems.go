package ledger

import "github.com/codexion/codexion/platform"

// The problem codes ledger answers with; docs/problems.md lists every code.
var (
	CodeAccountClosed             = platform.Code{Kind: platform.KindConflict, Code: "account_closed", Doc: "the account is closed: it takes no postings and cannot be closed again"}
	CodeAccountExists             = platform.Code{Kind: platform.KindConflict, Code: "account_exists", Doc: "an account with this code already exists in the book"}
	CodeAccountInUse              = platform.Code{Kind: platform.KindConflict, Code: "account_in_use", Doc: "the account still has open child accounts"}
	CodeAccountNotEmpty           = platform.Code{Kind: platform.KindConflict, Code: "account_not_empty", Doc: "the account still has a balance; move it before closing the account"}
	CodeAccountNotFound           = platform.Code{Kind: platform.KindNotFound, Code: "account_not_found", Doc: "no account with this code in the book"}
	CodeBalanceRuleViolated       = platform.Code{Kind: platform.KindInvalid, Code: "balance_rule_violated", Doc: "the entry would take an account past its balance rule (debit-side or credit-side only)"}
	CodeBookExists                = platform.Code{Kind: platform.KindConflict, Code: "book_exists", Doc: "a book with this code already exists"}
	CodeBookNotFound              = platform.Code{Kind: platform.KindNotFound, Code: "book_not_found", Doc: "no book with this code"}
	CodeEntryAlreadyReversed      = platform.Code{Kind: platform.KindConflict, Code: "entry_already_reversed", Doc: "the entry was reversed already"}
	CodeEntryIsReversal           = platform.Code{Kind: platform.KindConflict, Code: "entry_is_reversal", Doc: "the entry is itself a reversal; post a new entry instead"}
	CodeEntryNotFound             = platform.Code{Kind: platform.KindNotFound, Code: "entry_not_found", Doc: "no entry with this id"}
	CodeEntryUnbalanced           = platform.Code{Kind: platform.KindInvalid, Code: "entry_unbalanced", Doc: "debits and credits of the entry differ in the book currency"}
	CodeInvalidAccount            = platform.Code{Kind: platform.KindInvalid, Code: "invalid_account", Doc: "the account's fields are wrong; fields names each"}
	CodeInvalidEntry              = platform.Code{Kind: platform.KindInvalid, Code: "invalid_entry", Doc: "the entry's fields are wrong; fields names each"}
	CodeLedgerCorrupt             = platform.Code{Kind: platform.KindInternal, Code: "ledger_corrupt", Doc: "a report found the book's trial balance not netting to zero: a defect, reported with its request id"}
	CodeNoRetainedEarningsAccount = platform.Code{Kind: platform.KindConflict, Code: "no_retained_earnings_account", Doc: "closing December closes the year, and the book names no retained earnings account"}
	CodePeriodClosed              = platform.Code{Kind: platform.KindConflict, Code: "period_closed", Doc: "the period is closed: it takes no postings and cannot be closed again"}
	CodePeriodOpen                = platform.Code{Kind: platform.KindConflict, Code: "period_open", Doc: "only a closed period can be reopened"}
	CodeReasonRequired            = platform.Code{Kind: platform.KindInvalid, Code: "reason_required", Doc: "reopening a period needs a reason"}
	CodeYearEndTooLarge           = platform.Code{Kind: platform.KindConflict, Code: "year_end_too_large", Doc: "the year-end closing entry would exceed the ledger's bounds (lines or amounts)"}
)

// Codes lists them.
func Codes() []platform.Code {
	return []platform.Code{CodeAccountClosed, CodeAccountExists, CodeAccountInUse, CodeAccountNotEmpty, CodeAccountNotFound, CodeBalanceRuleViolated, CodeBookExists, CodeBookNotFound, CodeEntryAlreadyReversed, CodeEntryIsReversal, CodeEntryNotFound, CodeEntryUnbalanced, CodeInvalidAccount, CodeInvalidEntry, CodeLedgerCorrupt, CodeNoRetainedEarningsAccount, CodePeriodClosed, CodePeriodOpen, CodeReasonRequired, CodeYearEndTooLarge}
}
