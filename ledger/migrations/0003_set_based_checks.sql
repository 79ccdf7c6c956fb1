-- The rows every post writes are checked once per statement, on the whole set of new rows,
-- instead of row by row: a foreign key fires one trigger and one locking lookup per row, and
-- the deferred balance trigger one query per entry at commit, which profiling showed as a
-- third of the database's time on a batch of 1,000 entries. See ADR 0012.
--
-- The ledger writes an entry and its lines in one statement, and statement-level triggers
-- fire at its end, when both are there:
--   * every new line belongs to an entry and to an account of the entry's book, on the
--     entry's posting date (stricter than the foreign keys were, which did not tie the three
--     together), and every entry that new lines belong to has at least two that sum to zero,
--     counting the lines it had before the statement;
--   * every new entry is in a journal of its book and has lines (an entry written without
--     them is refused at once).
-- So no code path can store a dangling or unbalanced entry, as before.
--
-- Each check probes the tables by index, row by row of the new set: the lookups sit in
-- LATERAL subqueries that the planner cannot flatten into a merge or hash join, which on
-- statistics of a once smaller table it chose, and which read the whole table per statement.
--
-- What the foreign keys also did, keeping the referenced row from being deleted or re-keyed
-- while it is referenced, the tables below now forbid outright: books, journals and accounts
-- are closed, never deleted, and their keys never change.

ALTER TABLE ledger_lines
    DROP CONSTRAINT ledger_lines_entry_id_fkey,
    DROP CONSTRAINT ledger_lines_account_id_fkey;
ALTER TABLE ledger_entries
    DROP CONSTRAINT ledger_entries_book_id_fkey,
    DROP CONSTRAINT ledger_entries_book_id_journal_fkey;
DROP TRIGGER ledger_entries_balanced ON ledger_entries;
DROP FUNCTION ledger_check_entry_balanced();

CREATE FUNCTION ledger_check_line_refs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.entry_id, n.line_no, n.account_id, e.id AS entry, a.id AS account INTO bad
    FROM ledger_new_lines n
    LEFT JOIN LATERAL (SELECT id, book_id, posting_date FROM ledger_entries WHERE id = n.entry_id OFFSET 0) e ON true
    LEFT JOIN LATERAL (SELECT id, book_id FROM ledger_accounts WHERE id = n.account_id OFFSET 0) a ON true
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
    SELECT t.entry_id, s.n, s.total INTO bad
    FROM (SELECT DISTINCT entry_id FROM ledger_new_lines) t
    CROSS JOIN LATERAL (SELECT count(*) AS n, coalesce(sum(l.book_amount), 0) AS total
                        FROM ledger_lines l WHERE l.entry_id = t.entry_id) s
    WHERE s.n < 2 OR s.total <> 0
    LIMIT 1;
    IF FOUND THEN
        IF bad.n < 2 THEN
            RAISE EXCEPTION 'entry % has % lines; an entry needs at least two', bad.entry_id, bad.n
                USING ERRCODE = '23514', CONSTRAINT = 'ledger_entries_balanced';
        END IF;
        RAISE EXCEPTION 'entry % does not balance: debits - credits = %', bad.entry_id, bad.total
            USING ERRCODE = '23514', CONSTRAINT = 'ledger_entries_balanced';
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION ledger_check_entry_refs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.id, n.book_id, n.journal INTO bad
    FROM ledger_new_entries n
    LEFT JOIN LATERAL (SELECT 1 AS found FROM ledger_journals j WHERE j.book_id = n.book_id AND j.code = n.journal LIMIT 1) j ON true
    WHERE j.found IS NULL
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'entry % is in journal % of book %, which does not exist', bad.id, bad.journal, bad.book_id
            USING ERRCODE = '23503', CONSTRAINT = 'ledger_entries_refs';
    END IF;
    -- The lines' own check has made sure that lines, where there are any, balance.
    SELECT n.id INTO bad
    FROM ledger_new_entries n
    LEFT JOIN LATERAL (SELECT 1 AS found FROM ledger_lines l WHERE l.entry_id = n.id LIMIT 1) l ON true
    WHERE l.found IS NULL
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'entry % has no lines; an entry and its lines are written in one statement', bad.id
            USING ERRCODE = '23514', CONSTRAINT = 'ledger_entries_balanced';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER ledger_lines_refs AFTER INSERT ON ledger_lines
    REFERENCING NEW TABLE AS ledger_new_lines
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_line_refs();
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
