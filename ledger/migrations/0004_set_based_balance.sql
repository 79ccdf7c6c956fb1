-- An entry's lines must balance in the book currency. The deferred per-row trigger that
-- checked it at commit ran one query per entry; it is replaced by checks once per
-- statement, on the set of new rows. The ledger writes an entry and its lines in one
-- statement, and statement-level triggers fire at its end, when both are there:
--   * every new entry has lines (an entry written without them is refused at once);
--   * every entry that new lines belong to has at least two, and they sum to zero, counting
--     the lines it had before the statement.
-- So no code path can store an entry that does not balance, as before. See ADR 0012.
--
-- Each check probes the tables by index, row by row of the new set: the lookups sit in
-- LATERAL subqueries that the planner cannot flatten into a merge or hash join, which on
-- statistics of a once smaller table it chose, and which read the whole table per statement.

DROP TRIGGER ledger_entries_balanced ON ledger_entries;
DROP FUNCTION ledger_check_entry_balanced();

CREATE OR REPLACE FUNCTION ledger_check_line_refs() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE OR REPLACE FUNCTION ledger_check_entry_refs() RETURNS trigger LANGUAGE plpgsql AS $$
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
