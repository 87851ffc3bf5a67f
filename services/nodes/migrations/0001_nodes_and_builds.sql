-- Botnets: one owner row per player (the row a player's writes lock), nodes,
-- the starter grants received, and the build queue.
CREATE TABLE owners (
    player_id uuid PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE nodes (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    player_id uuid NOT NULL REFERENCES owners (player_id),
    kind text NOT NULL,
    level integer NOT NULL DEFAULT 1 CHECK (level >= 1),
    hp integer NOT NULL CHECK (hp >= 0),
    max_hp integer NOT NULL CHECK (max_hp > 0),
    income bigint NOT NULL CHECK (income >= 0),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    CHECK (hp <= max_hp),
    -- Derived from HP (docs/game-rules.md) and stored, so it can be indexed.
    state text GENERATED ALWAYS AS (
        CASE
            WHEN hp = 0 THEN 'offline'
            WHEN hp * 100 < max_hp * 40 THEN 'corrupted'
            WHEN hp * 100 < max_hp * 75 THEN 'degraded'
            ELSE 'healthy'
        END
    ) STORED
);

-- The dashboard's keyset pagination: a player's nodes by (created_at, id).
CREATE INDEX nodes_dashboard_idx ON nodes (player_id, created_at, id);
CREATE INDEX nodes_damaged_idx ON nodes (state) WHERE state <> 'healthy';

-- One row per applied grant; written in the grant's own transaction.
CREATE TABLE starter_grants (
    idempotency_key text PRIMARY KEY,
    player_id uuid NOT NULL REFERENCES owners (player_id),
    granted integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE builds (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    player_id uuid NOT NULL REFERENCES owners (player_id),
    idempotency_key text NOT NULL,
    kind text NOT NULL,
    upgrade_node_id uuid REFERENCES nodes (id),
    cost bigint NOT NULL CHECK (cost > 0),
    build_seconds integer NOT NULL CHECK (build_seconds >= 0),
    state text NOT NULL CHECK (
        state IN ('awaiting_payment', 'in_progress', 'completed')
    ),
    ordered_at timestamptz NOT NULL DEFAULT now(),
    -- When an unconfirmed payment is retried (awaiting_payment only).
    payment_due_at timestamptz,
    payment_attempts integer NOT NULL DEFAULT 0,
    -- Set when the payment is confirmed.
    finishes_at timestamptz,
    completed_at timestamptz,
    lateness_ms bigint,
    node_id uuid REFERENCES nodes (id),
    UNIQUE (player_id, idempotency_key)
);

-- The scheduler's due query: paid builds in finishes_at order.
CREATE INDEX builds_due_idx ON builds (finishes_at) WHERE state = 'in_progress';
CREATE INDEX builds_payment_due_idx ON builds (payment_due_at)
    WHERE state = 'awaiting_payment';
CREATE INDEX builds_open_idx ON builds (player_id, ordered_at)
    WHERE state IN ('awaiting_payment', 'in_progress');
-- A node is upgraded by one build at a time.
CREATE UNIQUE INDEX builds_one_upgrade_per_node ON builds (upgrade_node_id)
    WHERE state IN ('awaiting_payment', 'in_progress');
