-- The references of the rows every post writes are checked once per statement, on the
-- whole set of new rows, instead of by a per-row foreign key: a foreign key fires one
-- trigger and one locking lookup per row, which profiling showed as a third of the
-- database's time on a batch of 1,000 entries. See ADR 0012.
--
-- What the foreign keys also did, keeping the referenced row from being deleted or
-- re-keyed while it is referenced, the tables below now forbid outright: books, journals
-- and accounts are closed, never deleted, and their keys never change.

ALTER TABLE ledger_lines
    DROP CONSTRAINT ledger_lines_entry_id_fkey,
    DROP CONSTRAINT ledger_lines_account_id_fkey;
ALTER TABLE ledger_entries
    DROP CONSTRAINT ledger_entries_book_id_fkey,
    DROP CONSTRAINT ledger_entries_book_id_journal_fkey;

-- Every new line belongs to an entry and to an account of the entry's book, on the entry's
-- posting date: stricter than the foreign keys were, which did not tie the three together.
CREATE FUNCTION ledger_check_line_refs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.entry_id, n.line_no, n.account_id, e.id AS entry, a.id AS account INTO bad
    FROM ledger_new_lines n
    LEFT JOIN ledger_entries e ON e.id = n.entry_id
    LEFT JOIN ledger_accounts a ON a.id = n.account_id
    WHERE e.id IS NULL OR a.id IS NULL
       OR a.book_id <> n.book_id OR e.book_id <> n.book_id OR e.posting_date <> n.posting_date
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'line % of entry % refers to %', bad.line_no, bad.entry_id,
            CASE WHEN bad.entry IS NULL THEN 'an entry that does not exist'
                 WHEN bad.account IS NULL THEN format('account %s, which does not exist', bad.account_id)
                 ELSE 'an account, book or date other than its entry''s' END
            USING ERRCODE = '23503', CONSTRAINT = 'ledger_lines_refs';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER ledger_lines_refs AFTER INSERT ON ledger_lines
    REFERENCING NEW TABLE AS ledger_new_lines
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_line_refs();

-- Every new entry is in a journal of its book (and so in a book).
CREATE FUNCTION ledger_check_entry_refs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.id, n.book_id, n.journal INTO bad
    FROM ledger_new_entries n
    LEFT JOIN ledger_journals j ON j.book_id = n.book_id AND j.code = n.journal
    WHERE j.book_id IS NULL
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'entry % is in journal % of book %, which does not exist', bad.id, bad.journal, bad.book_id
            USING ERRCODE = '23503', CONSTRAINT = 'ledger_entries_refs';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER ledger_entries_refs AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS ledger_new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_entry_refs();

-- What entries and lines refer to stays: no delete, no change of key.
CREATE FUNCTION ledger_keep_referenced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'TRUNCATE') THEN
        RAISE EXCEPTION '% rows are never deleted: close them instead', TG_TABLE_NAME USING ERRCODE = '55000';
    END IF;
    IF TG_TABLE_NAME = 'ledger_books' THEN
        IF NEW.id <> OLD.id THEN
            RAISE EXCEPTION 'the id of a book never changes' USING ERRCODE = '55000';
        END IF;
    ELSIF TG_TABLE_NAME = 'ledger_journals' THEN
        IF (NEW.book_id, NEW.code) IS DISTINCT FROM (OLD.book_id, OLD.code) THEN
            RAISE EXCEPTION 'the book and code of a journal never change' USING ERRCODE = '55000';
        END IF;
    ELSIF (NEW.id, NEW.book_id) IS DISTINCT FROM (OLD.id, OLD.book_id) THEN
        RAISE EXCEPTION 'the id and book of an account never change' USING ERRCODE = '55000';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER ledger_books_kept BEFORE UPDATE OR DELETE ON ledger_books
    FOR EACH ROW EXECUTE FUNCTION ledger_keep_referenced();
CREATE TRIGGER ledger_journals_kept BEFORE UPDATE OR DELETE ON ledger_journals
    FOR EACH ROW EXECUTE FUNCTION ledger_keep_referenced();
CREATE TRIGGER ledger_accounts_kept BEFORE UPDATE OR DELETE ON ledger_accounts
    FOR EACH ROW EXECUTE FUNCTION ledger_keep_referenced();
CREATE TRIGGER ledger_books_not_truncated BEFORE TRUNCATE ON ledger_books
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_keep_referenced();
CREATE TRIGGER ledger_journals_not_truncated BEFORE TRUNCATE ON ledger_journals
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_keep_referenced();
CREATE TRIGGER ledger_accounts_not_truncated BEFORE TRUNCATE ON ledger_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_keep_referenced();
