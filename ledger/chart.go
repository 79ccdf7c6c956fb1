package ledger

// Templates are standard charts of accounts that `codexion ledger init` loads. Parents come
// before their children.
var Templates = map[string][]AccountInput{
	"sme": {
		{Code: "1090", Name: "Cash and bank", Type: Asset},
		{Code: "1000", Name: "Cash", Type: Asset, Parent: "1090", BalanceRule: DebitSide},
		{Code: "1010", Name: "Bank", Type: Asset, Parent: "1090"},
		{Code: "1200", Name: "Accounts receivable", Type: Asset},
		{Code: "1300", Name: "Inventory", Type: Asset, BalanceRule: DebitSide},
		{Code: "1400", Name: "Input VAT", Type: Asset},
		{Code: "1500", Name: "Equipment", Type: Asset},
		{Code: "1590", Name: "Accumulated depreciation", Type: Asset, BalanceRule: CreditSide},
		{Code: "2000", Name: "Accounts payable", Type: Liability},
		{Code: "2100", Name: "Accrued liabilities", Type: Liability},
		{Code: "2200", Name: "VAT payable", Type: Liability},
		{Code: "2300", Name: "Payroll liabilities", Type: Liability},
		{Code: "2500", Name: "Bank loans", Type: Liability},
		{Code: "3000", Name: "Share capital", Type: Equity},
		{Code: "3200", Name: "Retained earnings", Type: Equity},
		{Code: "4000", Name: "Sales revenue", Type: Income},
		{Code: "4100", Name: "Service revenue", Type: Income},
		{Code: "4900", Name: "Other income", Type: Income},
		{Code: "5000", Name: "Cost of goods sold", Type: Expense},
		{Code: "6000", Name: "Rent", Type: Expense},
		{Code: "6100", Name: "Salaries", Type: Expense},
		{Code: "6200", Name: "Utilities", Type: Expense},
		{Code: "6300", Name: "Bank fees", Type: Expense},
		{Code: "6400", Name: "Marketing", Type: Expense},
		{Code: "6500", Name: "Depreciation", Type: Expense},
		{Code: "6600", Name: "Software and subscriptions", Type: Expense},
		{Code: "6900", Name: "Other expenses", Type: Expense},
	},
}

// TemplateRetainedEarnings is the retained earnings account of every template.
const TemplateRetainedEarnings = "3200"
