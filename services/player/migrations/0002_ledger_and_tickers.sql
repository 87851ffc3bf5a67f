-- Idempotent debits, ticker windows and the starter-grant outbox.

-- One row per applied debit; the key is the caller's idempotency key and is
-- written in the same transaction as the debit.
CREATE TABLE spends (
    idempotency_key text PRIMARY KEY,
    player_id uuid NOT NULL REFERENCES players (id),
    amount bigint NOT NULL CHECK (amount > 0),
    reason text NOT NULL,
    balance_after bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX spends_player_idx ON spends (player_id, created_at);

-- One row per (ticker, window) applied: a second attempt finds the row and
-- changes nothing.
CREATE TABLE ticker_windows (
    ticker text NOT NULL,
    window_number bigint NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticker, window_number)
);

-- Starter-node grants still to be confirmed by the nodes service. Written in
-- the registration's transaction, so a registration is never without one.
CREATE TABLE starter_grants (
    player_id uuid PRIMARY KEY REFERENCES players (id),
    due_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0,
    delivered_at timestamptz
);

CREATE INDEX starter_grants_due_idx ON starter_grants (due_at)
    WHERE delivered_at IS NULL;
