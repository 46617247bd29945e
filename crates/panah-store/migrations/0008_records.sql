-- The case tracker's records: what the hub keeps of a need or a case is an opaque id chosen
-- by the coordinator's device, a version, a day, and two age files it cannot open (the
-- record's data key wrapped to the team, and the signed, padded content). A deletion is a
-- version like any other, signed on a coordinator's device, that replaces the content it
-- deletes; the hub cannot tell it from an edit.
CREATE TABLE records (
    id {id},
    collective_id BIGINT NOT NULL REFERENCES collectives (id),
    record TEXT NOT NULL,
    version BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    changed_on TEXT NOT NULL,
    wrapped {blob} NOT NULL,
    body {blob} NOT NULL
);
CREATE UNIQUE INDEX records_record ON records (collective_id, record);
CREATE UNIQUE INDEX records_seq ON records (collective_id, seq);

-- Each collective's change counter, and how many records and bytes it holds. Taking the next
-- number locks the row until commit, so numbers are committed in order and a device that
-- read up to N never misses a change numbered below N.
CREATE TABLE record_clock (
    collective_id BIGINT PRIMARY KEY REFERENCES collectives (id),
    seq BIGINT NOT NULL,
    live BIGINT NOT NULL,
    bytes BIGINT NOT NULL
);
