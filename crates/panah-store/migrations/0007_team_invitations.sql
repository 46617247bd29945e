-- Keys the operator proposed for a collective's team (`panah admin add-coordinator` once the
-- collective has a coordinator). An invitation does nothing: only a coordinator's signed
-- `panah team add` puts a key on the team; the row goes when that happens.
CREATE TABLE team_invitations (
    id {id},
    collective_id BIGINT NOT NULL REFERENCES collectives (id),
    recipient TEXT NOT NULL,
    signing_key TEXT NOT NULL,
    label TEXT NOT NULL,
    invited_at TEXT NOT NULL
);
CREATE UNIQUE INDEX team_invitations_key ON team_invitations (collective_id, signing_key);
