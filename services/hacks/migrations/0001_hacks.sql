-- Hacks in flight. Only the shape exists so far; the rules come in a later issue.
CREATE TABLE hacks (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    attacker_id uuid NOT NULL,
    target_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    finishes_at timestamptz NOT NULL,
    resolved_at timestamptz
);

-- Due hacks are drained in finishes_at order.
CREATE INDEX hacks_due_idx ON hacks (finishes_at) WHERE resolved_at IS NULL;
