-- Group commit: one transaction posts the entries of many requests. These take the locks
-- and make the checks of the one-round-trip path for a whole group.

-- Shared locks on every period and then every account of the group, each set in key order
-- (the global order of ADR 0004), then the checks under them: every period open, every
-- account active. Each statement of a volatile function sees what committed before it ran,
-- so the checks see a close that committed while the group waited for its lock. A failure is
-- a custom SQLSTATE that sends the group down the two-round-trip path, which refuses exactly
-- the entries concerned.
CREATE FUNCTION ledger_lock_for_group(p_books bigint[], p_periods text[], p_acc_books bigint[], p_codes text[], p_accounts bigint[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(k) FROM (
        SELECT DISTINCT ledger_period_lock_key(b, p) AS k FROM unnest(p_books, p_periods) AS t(b, p)) x
        ORDER BY k;
    PERFORM pg_advisory_xact_lock_shared(k) FROM (
        SELECT DISTINCT ledger_account_lock_key(b, c) AS k FROM unnest(p_acc_books, p_codes) AS t(b, c)) x
        ORDER BY k;
    IF EXISTS (SELECT 1 FROM unnest(p_books, p_periods) AS t(b, p)
               LEFT JOIN ledger_periods lp ON lp.book_id = t.b AND lp.period = t.p
               WHERE lp.status IS DISTINCT FROM 'open') THEN
        RAISE EXCEPTION 'a period of the group is not open' USING ERRCODE = 'CX001';
    END IF;
    IF (SELECT count(*) FROM ledger_accounts WHERE id = ANY(p_accounts) AND status = 'active')
       <> (SELECT count(DISTINCT a) FROM unnest(p_accounts) AS a) THEN
        RAISE EXCEPTION 'an account of the group is not active' USING ERRCODE = 'CX002';
    END IF;
END $$;

-- Locks, in id order, the entries a group reverses, and fails (CX003) when one is already
-- reversed or is itself a reversal: the two-round-trip path then says which.
CREATE FUNCTION ledger_lock_reversed(p_entries uuid[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM (SELECT reversed_by, kind FROM ledger_entries WHERE id = ANY(p_entries) ORDER BY id FOR UPDATE) e
               WHERE e.reversed_by IS NOT NULL OR e.kind = 'reversal')
       OR (SELECT count(*) FROM ledger_entries WHERE id = ANY(p_entries)) <> cardinality(p_entries) THEN
        RAISE EXCEPTION 'an entry the group reverses is already reversed' USING ERRCODE = 'CX003';
    END IF;
END $$;

-- The single-post function is replaced by the group's.
DROP FUNCTION ledger_lock_for_post(bigint, text, text[], bigint[]);
