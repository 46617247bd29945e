-- The hub: collectives, their public appeal, coordinators' public keys, API logins.
-- Portable SQL: {id} and {blob} are the only words that differ between SQLite and
-- PostgreSQL. Times are RFC 3339 UTC text of fixed width, so they compare as strings.

CREATE TABLE collectives (
    id {id},
    slug TEXT NOT NULL UNIQUE,
    default_lang TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- One row per collective and language. Public text only: the appeal page.
CREATE TABLE appeals (
    collective_id BIGINT NOT NULL REFERENCES collectives (id),
    lang TEXT NOT NULL,
    name TEXT NOT NULL,
    tagline TEXT NOT NULL,
    story TEXT NOT NULL,
    needs TEXT NOT NULL,
    give TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (collective_id, lang)
);

-- Public keys only. A removed coordinator keeps its row (removed_at set) so that what it
-- signed while it was a member can still be checked.
CREATE TABLE coordinators (
    id {id},
    collective_id BIGINT NOT NULL REFERENCES collectives (id),
    recipient TEXT NOT NULL,
    signing_key TEXT NOT NULL,
    label TEXT NOT NULL,
    added_at TEXT NOT NULL,
    removed_at TEXT
);
CREATE UNIQUE INDEX coordinators_active_key
    ON coordinators (collective_id, signing_key) WHERE removed_at IS NULL;

-- Single-use login challenges; taken (deleted) by the login that answers them.
CREATE TABLE login_challenges (
    id TEXT PRIMARY KEY,
    coordinator_id BIGINT NOT NULL REFERENCES coordinators (id),
    challenge {blob} NOT NULL,
    expires_at TEXT NOT NULL
);

-- API tokens are kept only as SHA-256 hashes: a copy of the database logs nobody in.
CREATE TABLE api_tokens (
    token_hash {blob} PRIMARY KEY,
    coordinator_id BIGINT NOT NULL REFERENCES coordinators (id),
    expires_at TEXT NOT NULL
);
CREATE INDEX api_tokens_expiry ON api_tokens (expires_at);
