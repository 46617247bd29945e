-- The contact drop. Only ciphertext (in blob files), padded sizes, coarse dates and keyed
-- hashes live here: no codename, no message text, no file name, no address.

-- Per-hub secrets (the key under which codenames are derived). Shared by every hub process
-- on one database.
CREATE TABLE hub_secrets (
    name TEXT PRIMARY KEY,
    secret {blob} NOT NULL,
    created_at TEXT NOT NULL
);

-- A sender's thread with a collective. `lookup` is HKDF(codename, hub secret); the reply
-- recipient is the public half of a key pair derived the same way. Dates are days.
CREATE TABLE conversations (
    id {id},
    collective_id BIGINT NOT NULL REFERENCES collectives (id),
    lookup {blob} NOT NULL UNIQUE,
    reply_recipient TEXT NOT NULL,
    created_on TEXT NOT NULL,
    last_on TEXT NOT NULL,
    expires_on TEXT NOT NULL
);
CREATE INDEX conversations_expiry ON conversations (expires_on);
CREATE INDEX conversations_collective ON conversations (collective_id);

-- A message is one age-encrypted envelope (text and the list of its files) plus one
-- age-encrypted blob per file. `size` is the stored, padded size.
CREATE TABLE messages (
    id {id},
    conversation_id BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    author TEXT NOT NULL,
    blob TEXT NOT NULL,
    size BIGINT NOT NULL,
    created_on TEXT NOT NULL
);
CREATE INDEX messages_conversation ON messages (conversation_id);

CREATE TABLE message_files (
    id {id},
    message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    blob TEXT NOT NULL,
    size BIGINT NOT NULL
);
CREATE INDEX message_files_message ON message_files (message_id);
