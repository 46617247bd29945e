-- The transparent fund ledger. Public data only: every row here is also published as a
-- C2SP tile. Entries are never updated or deleted; a correction is a new reversal entry.

-- One ledger per collective. `size` is the size of the latest signed checkpoint: entries
-- and hashes beyond it are never written (an append and its checkpoint commit together).
CREATE TABLE ledgers (
    collective_id BIGINT PRIMARY KEY REFERENCES collectives (id),
    origin TEXT NOT NULL UNIQUE,
    base_currency TEXT NOT NULL,
    size BIGINT NOT NULL,
    -- The overall goal, in base-currency minor units.
    target BIGINT,
    created_at TEXT NOT NULL
);

-- Per-category budgets (goals), in base-currency minor units.
CREATE TABLE ledger_budgets (
    collective_id BIGINT NOT NULL REFERENCES ledgers (collective_id),
    category TEXT NOT NULL,
    amount BIGINT NOT NULL,
    PRIMARY KEY (collective_id, category)
);

-- The entries: canonical leaf bytes. `receipt` and `reverses` repeat what the leaf says,
-- for lookups and so that the database itself refuses a second reversal or receipt.
CREATE TABLE ledger_entries (
    collective_id BIGINT NOT NULL REFERENCES ledgers (collective_id),
    idx BIGINT NOT NULL,
    leaf {blob} NOT NULL,
    receipt {blob},
    reverses BIGINT,
    PRIMARY KEY (collective_id, idx)
);
CREATE UNIQUE INDEX ledger_entries_receipt
    ON ledger_entries (collective_id, receipt) WHERE receipt IS NOT NULL;
CREATE UNIQUE INDEX ledger_entries_reverses
    ON ledger_entries (collective_id, reverses) WHERE reverses IS NOT NULL;

-- Every stored hash of the RFC 6962 tree, by tree level and index within the level.
CREATE TABLE ledger_hashes (
    collective_id BIGINT NOT NULL REFERENCES ledgers (collective_id),
    level BIGINT NOT NULL,
    n BIGINT NOT NULL,
    hash {blob} NOT NULL,
    PRIMARY KEY (collective_id, level, n)
);

-- Every signed checkpoint (C2SP signed note), kept so the history of signatures stays
-- public. When it was signed is kept no more exactly than the entries it added are dated
-- (a day, or the start of a week or month): the day a relocation expense was added is as
-- much a clue as its date.
CREATE TABLE ledger_checkpoints (
    collective_id BIGINT NOT NULL REFERENCES ledgers (collective_id),
    size BIGINT NOT NULL,
    note TEXT NOT NULL,
    coordinator_id BIGINT NOT NULL REFERENCES coordinators (id),
    signed_on TEXT NOT NULL,
    signed_precision TEXT NOT NULL,
    PRIMARY KEY (collective_id, size)
);
