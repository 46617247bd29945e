-- The sweep of blobs no row refers to asks which blob keys rows hold: indexed, so an
-- hourly sweep of a large hub is lookups, not scans.
CREATE INDEX messages_blob ON messages (blob);
CREATE INDEX message_files_blob ON message_files (blob);
