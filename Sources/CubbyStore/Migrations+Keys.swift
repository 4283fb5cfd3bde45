extension Migrations {
    /// The key ring and its rotations (migration numbers 30 and 31 are reserved for them).
    static let keys: [Migration] = [
        Migration(
            30, "key_ring",
            why:
                "data keys are wrapped by keys of a ring kept in the database (sealed under the key file's root) that rotate online, and each wrapped key names the key that wraps it",
            [
                // `sealed_key` is the key's 32 bytes sealed under a key derived from the key file's root with the id as
                // associated data; NULL once the key is retired and destroyed. `state`: primary (wraps new data keys;
                // at most one), active (still opens data keys), retired (destroyed).
                """
                CREATE TABLE key_ring (
                  id TEXT PRIMARY KEY, sealed_key {blob}, state TEXT NOT NULL, created_at {ts} NOT NULL,
                  promoted_at {ts}, retired_at {ts})
                """,
                "CREATE UNIQUE INDEX key_ring_one_primary ON key_ring (state) WHERE state = 'primary'",
                // One row per `cubby keys rotate`; `in_progress` is 1 while it runs and NULL after, so at most one
                // rotation is unfinished. The cursor (table and last id) makes a killed rotation resume where it
                // stopped; `lease_until` tells a second `cubby keys rotate` whether the first still runs.
                """
                CREATE TABLE key_rotations (
                  id TEXT PRIMARY KEY, in_progress {int} UNIQUE, new_key TEXT NOT NULL, phase TEXT NOT NULL,
                  cursor_table TEXT, cursor_id TEXT, sweep {int} NOT NULL DEFAULT 0,
                  rewrapped {int} NOT NULL DEFAULT 0, skipped {int} NOT NULL DEFAULT 0, destroyed TEXT,
                  started_at {ts} NOT NULL, updated_at {ts} NOT NULL, lease_until {ts} NOT NULL,
                  promote_at {ts}, grace_until {ts}, finished_at {ts})
                """,
            ])
    ]
}
