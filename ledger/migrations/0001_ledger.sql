-- The double-entry ledger. Amounts are numeric (exact). A line's book_amount is signed:
-- positive for a debit, negative for a credit, in the book's base currency.
CREATE TABLE ledger_books (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code          text        NOT NULL UNIQUE,
    name          text        NOT NULL,
    base_currency char(3)     NOT NULL,
    retained_earnings_account text,  -- where the year-end close moves income and expense
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ledger_accounts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    book_id       bigint      NOT NULL REFERENCES ledger_books (id),
    code          text        NOT NULL,
    name          text        NOT NULL,
    type          text        NOT NULL CHECK (type IN ('asset', 'liability', 'equity', 'income', 'expense')),
    parent_id     bigint      REFERENCES ledger_accounts (id),
    currency      char(3),
    status        text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed')),
    balance_rule  text        NOT NULL DEFAULT 'either' CHECK (balance_rule IN ('either', 'debit', 'credit')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (book_id, code)
);

CREATE TABLE ledger_journals (
    book_id bigint NOT NULL REFERENCES ledger_books (id),
    code    text   NOT NULL,
    name    text   NOT NULL,
    PRIMARY KEY (book_id, code)
);

CREATE TABLE ledger_periods (
    book_id         bigint      NOT NULL REFERENCES ledger_books (id),
    period          char(7)     NOT NULL,  -- yyyy-mm
    status          text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    closed_at       timestamptz,
    closed_by       text,
    reopened_at     timestamptz,
    reopened_by     text,
    reopen_reason   text,
    PRIMARY KEY (book_id, period)
);

CREATE TABLE ledger_rates (
    book_id        bigint      NOT NULL REFERENCES ledger_books (id),
    currency       char(3)     NOT NULL,
    effective_date date        NOT NULL,
    rate           numeric     NOT NULL CHECK (rate > 0),  -- book currency per unit of currency
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (book_id, currency, effective_date)
);

CREATE TABLE ledger_entries (
    id            uuid        PRIMARY KEY,  -- UUIDv7
    seq           bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    book_id       bigint      NOT NULL REFERENCES ledger_books (id),
    posting_date  date        NOT NULL,
    journal       text        NOT NULL,
    reference     text        NOT NULL DEFAULT '',
    description   text        NOT NULL DEFAULT '',
    metadata      jsonb       NOT NULL DEFAULT '{}',
    reverses      uuid        REFERENCES ledger_entries (id),
    reversed_by   uuid        REFERENCES ledger_entries (id),
    kind          text        NOT NULL DEFAULT 'standard' CHECK (kind IN ('standard', 'reversal', 'closing')),
    created_by    text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (book_id, journal) REFERENCES ledger_journals (book_id, code)
);
CREATE INDEX ledger_entries_book_date ON ledger_entries (book_id, posting_date, seq);
CREATE UNIQUE INDEX ledger_entries_one_reversal ON ledger_entries (reverses) WHERE reverses IS NOT NULL;

CREATE TABLE ledger_lines (
    entry_id      uuid        NOT NULL REFERENCES ledger_entries (id),
    line_no       integer     NOT NULL,
    book_id       bigint      NOT NULL,
    account_id    bigint      NOT NULL REFERENCES ledger_accounts (id),
    posting_date  date        NOT NULL,
    currency      char(3)     NOT NULL,
    amount        numeric     NOT NULL,  -- signed, in currency: + debit, - credit
    rate          numeric     NOT NULL DEFAULT 1,
    book_amount   numeric     NOT NULL,  -- signed, in the book currency
    memo          text        NOT NULL DEFAULT '',
    dimensions    jsonb       NOT NULL DEFAULT '{}',
    PRIMARY KEY (entry_id, line_no),
    CHECK (amount <> 0 AND book_amount <> 0 AND sign(amount) = sign(book_amount))
);
CREATE INDEX ledger_lines_account_date ON ledger_lines (account_id, posting_date);
CREATE INDEX ledger_lines_book_date ON ledger_lines (book_id, posting_date);

-- Current balance per account and currency, kept in the posting transaction.
CREATE TABLE ledger_balances (
    account_id    bigint  NOT NULL REFERENCES ledger_accounts (id),
    currency      char(3) NOT NULL,
    debit         numeric NOT NULL DEFAULT 0,  -- sum of debits, in currency
    credit        numeric NOT NULL DEFAULT 0,  -- sum of credits, in currency (positive)
    book_debit    numeric NOT NULL DEFAULT 0,
    book_credit   numeric NOT NULL DEFAULT 0,
    lines         bigint  NOT NULL DEFAULT 0,
    rule          text    NOT NULL DEFAULT 'either',  -- the account's balance rule, enforced below
    PRIMARY KEY (account_id, currency)
);

-- A balance row must stay on the side its account's rule names. This is an AFTER trigger,
-- not a CHECK: a CHECK would also judge the row an upsert proposes before it finds the
-- existing one, refusing a credit to a debit-side account whatever its balance.
CREATE FUNCTION ledger_check_balance_rule() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.rule = 'debit' AND NEW.debit < NEW.credit) OR (NEW.rule = 'credit' AND NEW.credit < NEW.debit) THEN
        RAISE EXCEPTION 'balance of account % in % would be on the wrong side of its rule (%)', NEW.account_id, NEW.currency, NEW.rule
            USING ERRCODE = '23514', CONSTRAINT = 'ledger_balances_rule',
                  DETAIL = format('Failing row contains (%s, %s).', NEW.account_id, NEW.currency);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER ledger_balances_rule AFTER INSERT OR UPDATE ON ledger_balances
    FOR EACH ROW WHEN (NEW.rule <> 'either') EXECUTE FUNCTION ledger_check_balance_rule();

-- An entry's lines must balance in the book currency. The application checks it before
-- writing; this deferred trigger checks it again at commit, so no code path can store an
-- unbalanced entry.
CREATE FUNCTION ledger_check_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    total numeric;
    n     integer;
BEGIN
    SELECT coalesce(sum(book_amount), 0), count(*) INTO total, n FROM ledger_lines WHERE entry_id = NEW.id;
    IF n < 2 THEN
        RAISE EXCEPTION 'entry % has % lines; an entry needs at least two', NEW.id, n USING ERRCODE = '23514';
    END IF;
    IF total <> 0 THEN
        RAISE EXCEPTION 'entry % does not balance: debits - credits = %', NEW.id, total USING ERRCODE = '23514';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER ledger_entries_balanced
    AFTER INSERT ON ledger_entries DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_entry_balanced();

-- Entries and lines are immutable: a correction is a reversal.
CREATE FUNCTION ledger_forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'ledger_entries' AND TG_OP = 'UPDATE'
       AND OLD.reversed_by IS NULL AND NEW.reversed_by IS NOT NULL
       AND (OLD.id, OLD.book_id, OLD.posting_date, OLD.journal, OLD.reference, OLD.description, OLD.metadata, OLD.reverses, OLD.kind)
           IS NOT DISTINCT FROM
           (NEW.id, NEW.book_id, NEW.posting_date, NEW.journal, NEW.reference, NEW.description, NEW.metadata, NEW.reverses, NEW.kind) THEN
        RETURN NEW;  -- the one allowed change: linking the reversal
    END IF;
    RAISE EXCEPTION '% is immutable: post a reversal instead', TG_TABLE_NAME USING ERRCODE = '55000';
END $$;

CREATE TRIGGER ledger_entries_immutable BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_forbid_change();
CREATE TRIGGER ledger_lines_immutable BEFORE UPDATE OR DELETE ON ledger_lines
    FOR EACH ROW EXECUTE FUNCTION ledger_forbid_change();

-- Advisory lock keys: the book in the high 32 bits, a hash of the month (or of the account
-- code, kept apart by a prefix) in the low. Posts take these locks shared; closing a period
-- or an account takes its key exclusively. Defined once, here, for every caller.
CREATE FUNCTION ledger_period_lock_key(p_book bigint, p_period text) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT (p_book << 32) | (hashtext(p_period)::bigint & 4294967295) $$;

CREATE FUNCTION ledger_account_lock_key(p_book bigint, p_code text) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT (p_book << 32) | (hashtext('account:' || p_code)::bigint & 4294967295) $$;

-- The one-round-trip post takes its locks and checks, under them, what it could not know
-- from the application's caches: that the period is open and that every account is active
-- and in the book. Each statement of a volatile function sees what committed before it ran,
-- so the checks see a close that committed while the post waited for its lock. A failure is
-- a custom SQLSTATE that sends the post down the ordinary path, which reports the problem
-- field by field.
CREATE FUNCTION ledger_lock_for_post(p_book bigint, p_period text, p_codes text[], p_accounts bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(ledger_period_lock_key(p_book, p_period));
    PERFORM pg_advisory_xact_lock_shared(k) FROM (
        SELECT DISTINCT ledger_account_lock_key(p_book, c) AS k FROM unnest(p_codes) AS c) x
        ORDER BY k;
    IF NOT EXISTS (SELECT 1 FROM ledger_periods WHERE book_id = p_book AND period = p_period AND status = 'open') THEN
        RAISE EXCEPTION 'period % of book % is not open', p_period, p_book USING ERRCODE = 'CX001';
    END IF;
    IF (SELECT count(*) FROM ledger_accounts WHERE id = ANY(p_accounts) AND book_id = p_book AND status = 'active')
       <> cardinality(p_accounts) THEN
        RAISE EXCEPTION 'an account of the entry is not active in book %', p_book USING ERRCODE = 'CX002';
    END IF;
END $$;
