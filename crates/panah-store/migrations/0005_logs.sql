-- One log primitive. The fund ledger becomes one kind of log (the team of coordinators
-- will be another): the entries, stored hashes and signed checkpoints of every log live in
-- the log_* tables, keyed by the log; what only the ledger has (its base currency, goals,
-- and the receipt and reversal each entry names) stays in ledger_* tables.
--
-- Existing ledgers move byte for byte: every leaf, hash and signed note is copied as it
-- is, so every published tile and checkpoint stays exactly the same.
--
-- On PostgreSQL a hub of the previous version may still be running against the same
-- database: its appends wait here until the copy is done (and then fail, the old tables
-- being gone), instead of landing between two copy statements and being lost. SQLite's
-- migration holds the write lock throughout already.
{postgres} LOCK TABLE ledgers, ledger_budgets, ledger_entries, ledger_hashes, ledger_checkpoints IN ACCESS EXCLUSIVE MODE;

-- `size` is the size of the latest signed checkpoint: entries and hashes beyond it are
-- never written (an append and its checkpoint commit together).
CREATE TABLE logs (
    id {id},
    collective_id BIGINT NOT NULL REFERENCES collectives (id),
    kind TEXT NOT NULL,
    origin TEXT NOT NULL UNIQUE,
    size BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (collective_id, kind)
);

-- Entries, as their canonical leaf bytes. Never updated or deleted.
CREATE TABLE log_entries (
    log_id BIGINT NOT NULL REFERENCES logs (id),
    idx BIGINT NOT NULL,
    leaf {blob} NOT NULL,
    PRIMARY KEY (log_id, idx)
);

-- Every stored hash of the RFC 6962 tree, by tree level and index within the level.
CREATE TABLE log_hashes (
    log_id BIGINT NOT NULL REFERENCES logs (id),
    level BIGINT NOT NULL,
    n BIGINT NOT NULL,
    hash {blob} NOT NULL,
    PRIMARY KEY (log_id, level, n)
);

-- Every signed checkpoint (C2SP signed note), kept so the history of signatures stays
-- public. When it was signed is kept no more exactly than the entries it added are dated.
CREATE TABLE log_checkpoints (
    log_id BIGINT NOT NULL REFERENCES logs (id),
    size BIGINT NOT NULL,
    note TEXT NOT NULL,
    coordinator_id BIGINT NOT NULL REFERENCES coordinators (id),
    signed_on TEXT NOT NULL,
    signed_precision TEXT NOT NULL,
    PRIMARY KEY (log_id, size)
);

-- The ledger's own settings: the base currency and the overall goal (minor units).
CREATE TABLE ledger_settings (
    log_id BIGINT PRIMARY KEY REFERENCES logs (id),
    base_currency TEXT NOT NULL,
    target BIGINT
);

-- Per-category budgets, in base-currency minor units.
CREATE TABLE ledger_goals (
    log_id BIGINT NOT NULL REFERENCES ledger_settings (log_id),
    category TEXT NOT NULL,
    amount BIGINT NOT NULL,
    PRIMARY KEY (log_id, category)
);

-- What an entry's leaf says it reverses or its receipt commitment, for lookups and so that
-- the database itself refuses a second reversal or receipt. Only entries with either.
CREATE TABLE ledger_index (
    log_id BIGINT NOT NULL,
    idx BIGINT NOT NULL,
    receipt {blob},
    reverses BIGINT,
    PRIMARY KEY (log_id, idx),
    FOREIGN KEY (log_id, idx) REFERENCES log_entries (log_id, idx)
);
CREATE UNIQUE INDEX ledger_index_receipt
    ON ledger_index (log_id, receipt) WHERE receipt IS NOT NULL;
CREATE UNIQUE INDEX ledger_index_reverses
    ON ledger_index (log_id, reverses) WHERE reverses IS NOT NULL;

INSERT INTO logs (collective_id, kind, origin, size, created_at)
    SELECT collective_id, 'ledger', origin, size, created_at FROM ledgers ORDER BY collective_id;
INSERT INTO log_entries (log_id, idx, leaf)
    SELECT l.id, e.idx, e.leaf FROM ledger_entries e
    JOIN logs l ON l.collective_id = e.collective_id AND l.kind = 'ledger';
INSERT INTO log_hashes (log_id, level, n, hash)
    SELECT l.id, h.level, h.n, h.hash FROM ledger_hashes h
    JOIN logs l ON l.collective_id = h.collective_id AND l.kind = 'ledger';
INSERT INTO log_checkpoints (log_id, size, note, coordinator_id, signed_on, signed_precision)
    SELECT l.id, c.size, c.note, c.coordinator_id, c.signed_on, c.signed_precision
    FROM ledger_checkpoints c
    JOIN logs l ON l.collective_id = c.collective_id AND l.kind = 'ledger';
INSERT INTO ledger_settings (log_id, base_currency, target)
    SELECT l.id, g.base_currency, g.target FROM ledgers g
    JOIN logs l ON l.collective_id = g.collective_id AND l.kind = 'ledger';
INSERT INTO ledger_goals (log_id, category, amount)
    SELECT l.id, b.category, b.amount FROM ledger_budgets b
    JOIN logs l ON l.collective_id = b.collective_id AND l.kind = 'ledger';
INSERT INTO ledger_index (log_id, idx, receipt, reverses)
    SELECT l.id, e.idx, e.receipt, e.reverses FROM ledger_entries e
    JOIN logs l ON l.collective_id = e.collective_id AND l.kind = 'ledger'
    WHERE e.receipt IS NOT NULL OR e.reverses IS NOT NULL;

DROP TABLE ledger_budgets;
DROP TABLE ledger_checkpoints;
DROP TABLE ledger_hashes;
DROP TABLE ledger_entries;
DROP TABLE ledgers;
