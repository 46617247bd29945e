-- Ciphertext kept in the database itself: a message's envelope, written in the same
-- transaction as its row (one durable write instead of a blob file, a rename and two
-- fsyncs), and every blob of a hub whose blob store is the database (so that several hub
-- processes share nothing but the database). A blob is its chunks of at most 1 MiB, in
-- order; `day` is the day it was written (never the hour), for the sweep of blobs whose
-- row never landed.
CREATE TABLE blob_data (
    blob_key TEXT NOT NULL,
    seq BIGINT NOT NULL,
    data {blob} NOT NULL,
    day TEXT NOT NULL,
    PRIMARY KEY (blob_key, seq)
);
