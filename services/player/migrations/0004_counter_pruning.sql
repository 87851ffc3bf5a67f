-- Lets each login failure and registration attempt delete a few counter rows
-- of earlier minutes, whatever their subject, through an index range scan:
-- the tables then hold little more than the current minute.
CREATE INDEX login_failures_window_idx ON login_failures (window_start);
CREATE INDEX registration_attempts_window_idx ON registration_attempts (window_start);
