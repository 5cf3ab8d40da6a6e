-- +goose Up
-- The networks each API token has been used from (internal/apitoken).
-- Enforces CP-8.2 and CP-6.3: a token used from a network it has not been
-- used from before is audited (token.new_network), which the detection
-- rule token_new_network raises as an alert. No address is stored in
-- clear: networks is a JSON array of at most 16 keyed hashes
-- (HMAC-SHA256, truncated, with the server secret "token-networks") of the
-- client's /24 (IPv4) or /56 (IPv6), the most recently used last. Empty
-- until the token's first use, which teaches its first network.
ALTER TABLE api_tokens ADD COLUMN networks TEXT NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE api_tokens DROP COLUMN networks;
