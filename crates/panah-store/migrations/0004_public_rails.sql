-- Which payment rails a collective keeps off its public pages (naming one, such as crypto,
-- can be dangerous where it is banned): rail words separated by spaces, empty for none.
ALTER TABLE collectives ADD COLUMN hidden_rails TEXT NOT NULL DEFAULT '';
