import CubbyCore

extension Migrations {
    /// Versions 1 to 10: the locker world, parcels, the audit trail and its Merkle log, staff, residents and
    /// the units' edge link.
    static let locker: [Migration] = [
        Migration(
            1, "locker_world", why: "organizations, sites, units, compartments, carriers, couriers, recipients",
            [
                """
                CREATE TABLE organizations (
                  id {id} PRIMARY KEY, name TEXT NOT NULL, created_at {ts} NOT NULL)
                """,
                """
                CREATE TABLE sites (
                  id {id} PRIMARY KEY, organization_id {id} NOT NULL REFERENCES organizations(id),
                  name TEXT NOT NULL, pickup_lifetime_seconds {int} NOT NULL DEFAULT 604800,
                  reservation_seconds {int} NOT NULL DEFAULT 600, created_at {ts} NOT NULL)
                """,
                """
                CREATE TABLE units (
                  id {id} PRIMARY KEY, organization_id {id} NOT NULL REFERENCES organizations(id),
                  site_id {id} NOT NULL REFERENCES sites(id), name TEXT NOT NULL,
                  pin_consecutive_failures {int} NOT NULL DEFAULT 0, pin_locked_until {ts},
                  pin_suspended {bool} NOT NULL DEFAULT FALSE, pin_last_failure_at {ts}, created_at {ts} NOT NULL)
                """,
                """
                CREATE TABLE compartments (
                  id {id} PRIMARY KEY, unit_id {id} NOT NULL REFERENCES units(id), label TEXT NOT NULL,
                  size TEXT NOT NULL CHECK (size IN ('S','M','L','XL')),
                  width_mm {int} NOT NULL, height_mm {int} NOT NULL, depth_mm {int} NOT NULL,
                  accessible {bool} NOT NULL,
                  state TEXT NOT NULL CHECK (state IN ('available','reserved','occupied','out_of_service')),
                  door TEXT NOT NULL CHECK (door IN ('open','closed')),
                  parcel_id {id}, UNIQUE (unit_id, label))
                """,
                "CREATE INDEX compartments_free ON compartments (unit_id, state, size)",
                """
                CREATE TABLE carriers (
                  id {id} PRIMARY KEY, organization_id {id} NOT NULL REFERENCES organizations(id),
                  name TEXT NOT NULL, created_at {ts} NOT NULL)
                """,
                """
                CREATE TABLE carrier_sites (
                  carrier_id {id} NOT NULL REFERENCES carriers(id), site_id {id} NOT NULL REFERENCES sites(id),
                  PRIMARY KEY (carrier_id, site_id))
                """,
                """
                CREATE TABLE couriers (
                  id {id} PRIMARY KEY, carrier_id {id} NOT NULL REFERENCES carriers(id),
                  name TEXT NOT NULL, created_at {ts} NOT NULL)
                """,
                """
                CREATE TABLE recipients (
                  id {id} PRIMARY KEY, organization_id {id} NOT NULL REFERENCES organizations(id),
                  site_id {id} NOT NULL REFERENCES sites(id), needs_accessible {bool} NOT NULL,
                  data_key {blob}, contact {blob}, created_at {ts} NOT NULL, erased_at {ts})
                """,
            ]),
        Migration(
            2, "credentials",
            why: "bearer credentials for couriers, devices, administrators and carriers, stored as keyed hashes",
            [
                """
                CREATE TABLE credentials (
                  id {id} PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN ('courier','device','admin','carrier','auditor')),
                  token_hash {blob} NOT NULL UNIQUE, organization_id {id} NOT NULL REFERENCES organizations(id),
                  carrier_id {id}, courier_id {id}, unit_id {id}, site_ids TEXT, label TEXT NOT NULL,
                  created_at {ts} NOT NULL, expires_at {ts}, revoked_at {ts})
                """
            ]),
        Migration(
            3, "parcels", why: "parcels, their pickup credentials, PIN failures and the notification outbox",
            [
                """
                CREATE TABLE parcels (
                  id {id} PRIMARY KEY, organization_id {id} NOT NULL, site_id {id} NOT NULL,
                  unit_id {id} NOT NULL REFERENCES units(id), carrier_id {id} NOT NULL REFERENCES carriers(id),
                  recipient_id {id} NOT NULL REFERENCES recipients(id), tracking_number TEXT NOT NULL,
                  size TEXT NOT NULL, state TEXT NOT NULL CHECK (state IN
                    ('announced','reserved','deposited','picked_up','expired','removed','cancelled')),
                  compartment_id {id}, created_at {ts} NOT NULL, reserved_until {ts}, deposited_at {ts},
                  expires_at {ts}, picked_up_at {ts}, expired_at {ts}, removed_at {ts}, cancelled_at {ts},
                  updated_at {ts} NOT NULL)
                """,
                """
                CREATE UNIQUE INDEX parcels_live_tracking ON parcels (carrier_id, tracking_number)
                  WHERE state IN ('announced','reserved','deposited','expired')
                """,
                "CREATE INDEX parcels_due ON parcels (state, expires_at)",
                "CREATE INDEX parcels_reservation_due ON parcels (state, reserved_until)",
                "CREATE INDEX parcels_unit ON parcels (unit_id, state)",
                """
                CREATE TABLE pickup_credentials (
                  id {id} PRIMARY KEY, parcel_id {id} NOT NULL REFERENCES parcels(id),
                  unit_id {id} NOT NULL, compartment_id {id} NOT NULL, pin_hash {blob} NOT NULL,
                  qr_nonce TEXT NOT NULL, state TEXT NOT NULL CHECK (state IN ('live','used','revoked')),
                  created_at {ts} NOT NULL, expires_at {ts} NOT NULL, ended_at {ts})
                """,
                "CREATE UNIQUE INDEX pickup_live_pin ON pickup_credentials (unit_id, pin_hash) WHERE state = 'live'",
                "CREATE INDEX pickup_by_parcel ON pickup_credentials (parcel_id)",
                """
                CREATE TABLE pin_failures (
                  id {serial}, unit_id {id} NOT NULL, at {ts} NOT NULL)
                """,
                "CREATE INDEX pin_failures_window ON pin_failures (unit_id, at)",
                """
                CREATE TABLE outbox (
                  id {serial}, notification_id {id} NOT NULL UNIQUE, kind TEXT NOT NULL,
                  recipient_id {id} NOT NULL, parcel_id {id}, payload {blob}, created_at {ts} NOT NULL,
                  available_at {ts} NOT NULL, attempts {int} NOT NULL DEFAULT 0, delivered_at {ts}, last_error TEXT)
                """,
                "CREATE INDEX outbox_pending ON outbox (delivered_at, available_at)",
            ]),
        Migration(
            4, "audit_events", why: "the append-only audit trail; triggers refuse UPDATE and DELETE",
            [
                """
                CREATE TABLE audit_events (
                  seq {serial}, id {id} NOT NULL UNIQUE, occurred_at {ts} NOT NULL, type TEXT NOT NULL,
                  outcome TEXT NOT NULL, actor_kind TEXT NOT NULL, actor_id TEXT, actor_role TEXT,
                  organization_id {id}, site_id {id}, unit_id {id}, compartment_id {id}, parcel_id {id},
                  tracking_number TEXT, detail TEXT NOT NULL, canonical {blob} NOT NULL, leaf_hash {blob} NOT NULL)
                """,
                "CREATE INDEX audit_by_parcel ON audit_events (parcel_id)",
                "CREATE INDEX audit_by_unit ON audit_events (unit_id, seq)",
            ],
            sqlite: [
                """
                CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
                BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END
                """,
                """
                CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
                BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END
                """,
            ],
            postgres: [
                """
                CREATE FUNCTION cubby_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'audit events are append-only'; END $$
                """,
                """
                CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
                FOR EACH ROW EXECUTE FUNCTION cubby_audit_append_only()
                """,
                """
                CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
                FOR EACH STATEMENT EXECUTE FUNCTION cubby_audit_append_only()
                """,
            ]),
        Migration(
            5, "merkle_log", why: "leaf indexes in commit order, stored tree nodes, log state and signed checkpoints",
            [
                "CREATE TABLE audit_pending (seq {int} PRIMARY KEY)",
                """
                CREATE TABLE audit_leaves (
                  leaf_index {int} PRIMARY KEY, event_seq {int} NOT NULL UNIQUE, leaf_hash {blob} NOT NULL)
                """,
                """
                CREATE TABLE merkle_nodes (
                  level {int} NOT NULL, idx {int} NOT NULL, hash {blob} NOT NULL, PRIMARY KEY (level, idx))
                """,
                """
                CREATE TABLE log_state (
                  id {int} PRIMARY KEY CHECK (id = 1), size {int} NOT NULL, frontier {blob} NOT NULL, updated_at {ts} NOT NULL)
                """,
                """
                CREATE TABLE checkpoints (
                  size {int} PRIMARY KEY, root {blob} NOT NULL, note TEXT NOT NULL, created_at {ts} NOT NULL)
                """,
                // Events written before this migration are queued for sequencing in their order.
                "INSERT INTO audit_pending (seq) SELECT seq FROM audit_events",
            ],
            sqlite: [
                """
                CREATE TRIGGER audit_events_pending AFTER INSERT ON audit_events
                BEGIN INSERT INTO audit_pending (seq) VALUES (NEW.seq); END
                """
            ]
                + appendOnly(["audit_leaves", "merkle_nodes", "checkpoints"], .sqlite),
            postgres: [
                """
                CREATE FUNCTION cubby_audit_pending() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN INSERT INTO audit_pending (seq) VALUES (NEW.seq); RETURN NULL; END $$
                """,
                """
                CREATE TRIGGER audit_events_pending AFTER INSERT ON audit_events
                FOR EACH ROW EXECUTE FUNCTION cubby_audit_pending()
                """,
            ]
                + appendOnly(["audit_leaves", "merkle_nodes", "checkpoints"], .postgres)),
        Migration(
            6, "staff_accounts",
            why:
                "administrators', super-administrators' and auditors' accounts, their second factors, enrollment links and sessions",
            [
                """
                CREATE TABLE staff_accounts (
                  id {id} PRIMARY KEY, organization_id {id} NOT NULL REFERENCES organizations(id),
                  email TEXT NOT NULL UNIQUE, role TEXT NOT NULL CHECK (role IN ('super-admin','admin','auditor')),
                  site_ids TEXT, status TEXT NOT NULL CHECK (status IN ('invited','active','deactivated')),
                  password_hash TEXT, totp_secret {blob}, totp_confirmed {bool} NOT NULL DEFAULT FALSE, totp_last_step {int},
                  failed_signins {int} NOT NULL DEFAULT 0, next_signin_at {ts}, locked {bool} NOT NULL DEFAULT FALSE,
                  created_at {ts} NOT NULL, enrolled_at {ts}, updated_at {ts} NOT NULL)
                """,
                "CREATE INDEX staff_accounts_org ON staff_accounts (organization_id, role, status)",
                """
                CREATE TABLE enrollment_links (
                  token_hash {blob} PRIMARY KEY, account_id {id} NOT NULL REFERENCES staff_accounts(id),
                  created_at {ts} NOT NULL, expires_at {ts} NOT NULL, used_at {ts})
                """,
                """
                CREATE TABLE recovery_codes (
                  code_hash {blob} PRIMARY KEY, account_id {id} NOT NULL REFERENCES staff_accounts(id),
                  created_at {ts} NOT NULL, used_at {ts})
                """,
                "CREATE INDEX recovery_codes_account ON recovery_codes (account_id)",
                """
                CREATE TABLE staff_sessions (
                  id_hash {blob} PRIMARY KEY, account_id {id} NOT NULL REFERENCES staff_accounts(id),
                  created_at {ts} NOT NULL, last_seen_at {ts} NOT NULL, verified_at {ts} NOT NULL, ended_at {ts})
                """,
                "CREATE INDEX staff_sessions_account ON staff_sessions (account_id, ended_at)",
            ]),
        Migration(
            7, "resident_sign_in", why: "residents sign in to their own pages with a one-time code sent to them",
            [
                "ALTER TABLE recipients ADD COLUMN email_hash {blob}",
                "CREATE INDEX recipients_email ON recipients (email_hash)",
                """
                CREATE TABLE resident_codes (
                  id {id} PRIMARY KEY, recipient_id {id} NOT NULL REFERENCES recipients(id), code_hash {blob} NOT NULL,
                  created_at {ts} NOT NULL, expires_at {ts} NOT NULL, used_at {ts}, attempts {int} NOT NULL DEFAULT 0)
                """,
                "CREATE INDEX resident_codes_recipient ON resident_codes (recipient_id, used_at)",
                """
                CREATE TABLE resident_sessions (
                  id_hash {blob} PRIMARY KEY, recipient_id {id} NOT NULL REFERENCES recipients(id),
                  created_at {ts} NOT NULL, last_seen_at {ts} NOT NULL, ended_at {ts})
                """,
                // Forms that show a secret once (issue a credential, invite) carry a single-use value, so a
                // reload cannot submit them twice.
                "CREATE TABLE form_submissions (once_hash {blob} PRIMARY KEY, used_at {ts} NOT NULL)",
            ]),
        Migration(
            8, "edge_controllers",
            why:
                "locker units run their own controllers: enrollment, journaled events applied once, commands, lockdown, alerts and photo evidence",
            [
                // A unit held in lockdown after a tamper signal, until an administrator releases it.
                "ALTER TABLE units ADD COLUMN locked_down_at {ts}",
                "ALTER TABLE units ADD COLUMN lockdown_reason TEXT",
                "ALTER TABLE units ADD COLUMN edge_enrolled_at {ts}",
                """
                CREATE TABLE unit_enrollment_codes (
                  code_hash {blob} PRIMARY KEY, unit_id {id} NOT NULL REFERENCES units(id),
                  created_at {ts} NOT NULL, expires_at {ts} NOT NULL, used_at {ts})
                """,
                // Each event of a unit's journal once: the primary key makes a replay a no-op.
                """
                CREATE TABLE device_events (
                  unit_id {id} NOT NULL REFERENCES units(id), seq {int} NOT NULL, kind TEXT NOT NULL,
                  hash TEXT NOT NULL, previous_hash TEXT NOT NULL, occurred_at {ts} NOT NULL, received_at {ts} NOT NULL,
                  body TEXT NOT NULL, PRIMARY KEY (unit_id, seq))
                """,
                """
                CREATE TABLE unit_commands (
                  id {id} PRIMARY KEY, unit_id {id} NOT NULL REFERENCES units(id), kind TEXT NOT NULL,
                  compartment_id {id}, reason TEXT, created_at {ts} NOT NULL, expires_at {ts} NOT NULL,
                  acked_at {ts}, outcome TEXT)
                """,
                "CREATE INDEX unit_commands_pending ON unit_commands (unit_id, acked_at, expires_at)",
                """
                CREATE TABLE alerts (
                  id {id} PRIMARY KEY, organization_id {id} NOT NULL, site_id {id}, unit_id {id}, compartment_id {id},
                  kind TEXT NOT NULL, detail TEXT NOT NULL, created_at {ts} NOT NULL, resolved_at {ts}, resolved_by TEXT)
                """,
                "CREATE INDEX alerts_open ON alerts (organization_id, resolved_at, created_at)",
                """
                CREATE TABLE evidence (
                  sha256 TEXT PRIMARY KEY, unit_id {id} NOT NULL, content_type TEXT NOT NULL, bytes {blob} NOT NULL,
                  created_at {ts} NOT NULL)
                """,
            ]),
        Migration(
            9, "pickup_by_parcel_state",
            why:
                "a parcel's live credentials are found through one index, not by combining it with the whole partial index of live PINs",
            [
                // PostgreSQL, with statistics not yet gathered, ANDed the parcel index with all of pickup_live_pin.
                "CREATE INDEX pickup_by_parcel_state ON pickup_credentials (parcel_id, state)",
                "DROP INDEX pickup_by_parcel",
            ]),
        Migration(
            10, "staff_step_up_failures",
            why:
                "step-up codes refused in a row are counted per account in the database, so every server process sees the same count",
            ["ALTER TABLE staff_accounts ADD COLUMN step_up_failures {int} NOT NULL DEFAULT 0"]),
    ]
}
