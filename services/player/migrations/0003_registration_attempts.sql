-- Registration attempts per client address and minute. Hashing a password
-- costs 19 MiB and tens of milliseconds, so an address gets a few per minute.
-- Only the address's current minute is kept: older rows go when it next tries.
CREATE TABLE registration_attempts (
    address text NOT NULL,
    window_start timestamptz NOT NULL,
    attempts integer NOT NULL,
    PRIMARY KEY (address, window_start)
);
