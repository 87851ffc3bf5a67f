-- Accounts, sessions and the login rate limit.
CREATE TABLE players (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username text NOT NULL,
    password_hash text NOT NULL,
    credits bigint NOT NULL CHECK (credits >= 0),
    heat bigint NOT NULL DEFAULT 0 CHECK (heat >= 0),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Usernames are unique regardless of case.
CREATE UNIQUE INDEX players_username_key ON players (lower(username));

-- Heat decay touches only players with heat.
CREATE INDEX players_heated_idx ON players (id) WHERE heat > 0;

CREATE TABLE sessions (
    token_hash bytea PRIMARY KEY,
    player_id uuid NOT NULL REFERENCES players (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);

CREATE INDEX sessions_player_idx ON sessions (player_id);

-- Failed logins per subject ("user:<name>" or "addr:<ip>") per minute.
CREATE TABLE login_failures (
    subject text NOT NULL,
    window_start timestamptz NOT NULL,
    failures integer NOT NULL,
    PRIMARY KEY (subject, window_start)
);
