import CubbyCore

extension Migrations {
    /// Versions 11 on: provisioning, the recipient directory, SCIM, one audit log per organization, the outbox's
    /// deliveries and webhooks, notification preferences. New migrations go at the end of this list.
    static let directory: [Migration] = [
        Migration(
            11, "enrolled_device_credentials",
            why:
                "a device credential made by an edge controller's enrollment is marked, so the next enrollment's first connection revokes it",
            ["ALTER TABLE credentials ADD COLUMN enrolled {bool} NOT NULL DEFAULT FALSE"]),
        Migration(
            12, "provisioning",
            why:
                "sites, units, compartments and carriers are created, changed and retired through the API and the CLI: sites gain an address, a time zone, languages and a reminder schedule; units and carriers can be retired",
            [
                "ALTER TABLE sites ADD COLUMN address TEXT NOT NULL DEFAULT ''",
                "ALTER TABLE sites ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC'",
                // Comma-separated language codes the kiosk offers at the site, e.g. `en,es`.
                "ALTER TABLE sites ADD COLUMN languages TEXT NOT NULL DEFAULT 'en'",
                // Comma-separated hours after a deposit at which the recipient is reminded, ascending.
                "ALTER TABLE sites ADD COLUMN reminder_hours TEXT NOT NULL DEFAULT '24,72'",
                "ALTER TABLE sites ADD COLUMN updated_at {ts}",
                "ALTER TABLE units ADD COLUMN decommissioned_at {ts}",
                "ALTER TABLE units ADD COLUMN updated_at {ts}",
                "ALTER TABLE carriers ADD COLUMN deactivated_at {ts}",
                "ALTER TABLE carriers ADD COLUMN updated_at {ts}",
            ]),
        Migration(
            13, "recipient_directory",
            why:
                "property managers create, change, find and deactivate recipients: apartment, language, an external id found through its keyed hash, and one email and one external id per recipient within an organization",
            [
                "ALTER TABLE recipients ADD COLUMN apartment TEXT",
                // The apartment as searched: case and spacing folded.
                "ALTER TABLE recipients ADD COLUMN apartment_key TEXT",
                "ALTER TABLE recipients ADD COLUMN preferred_language TEXT NOT NULL DEFAULT 'en'",
                "ALTER TABLE recipients ADD COLUMN external_id_hash {blob}",
                "ALTER TABLE recipients ADD COLUMN deactivated_at {ts}",
                "ALTER TABLE recipients ADD COLUMN updated_at {ts}",
                // Deactivated recipients keep their email and external id; an erased one frees them.
                """
                CREATE UNIQUE INDEX recipients_org_email ON recipients (organization_id, email_hash)
                WHERE erased_at IS NULL AND email_hash IS NOT NULL
                """,
                """
                CREATE UNIQUE INDEX recipients_org_external_id ON recipients (organization_id, external_id_hash)
                WHERE erased_at IS NULL AND external_id_hash IS NOT NULL
                """,
                "CREATE INDEX recipients_site_apartment ON recipients (site_id, apartment_key, id)",
                "CREATE INDEX recipients_site_id ON recipients (site_id, id)",
            ]),
        Migration(
            14, "scim_credentials",
            why:
                "an identity provider's SCIM client authenticates with a credential of its own kind, scim, scoped to one site",
            [],
            // SQLite cannot alter a CHECK constraint: the table is rebuilt with every column, row and constraint.
            sqlite: [
                """
                CREATE TABLE credentials_scim (
                  id {id} PRIMARY KEY,
                  kind TEXT NOT NULL CHECK (kind IN ('courier','device','admin','carrier','auditor','scim')),
                  token_hash {blob} NOT NULL UNIQUE, organization_id {id} NOT NULL REFERENCES organizations(id),
                  carrier_id {id}, courier_id {id}, unit_id {id}, site_ids TEXT, label TEXT NOT NULL,
                  created_at {ts} NOT NULL, expires_at {ts}, revoked_at {ts}, enrolled {bool} NOT NULL DEFAULT FALSE)
                """,
                """
                INSERT INTO credentials_scim (id, kind, token_hash, organization_id, carrier_id, courier_id, unit_id,
                  site_ids, label, created_at, expires_at, revoked_at, enrolled)
                SELECT id, kind, token_hash, organization_id, carrier_id, courier_id, unit_id, site_ids, label, created_at,
                  expires_at, revoked_at, enrolled FROM credentials
                """,
                "DROP TABLE credentials",
                "ALTER TABLE credentials_scim RENAME TO credentials",
            ],
            // The column's CHECK got PostgreSQL's default name for it in migration 2.
            postgres: [
                "ALTER TABLE credentials DROP CONSTRAINT credentials_kind_check",
                """
                ALTER TABLE credentials ADD CONSTRAINT credentials_kind_check
                  CHECK (kind IN ('courier','device','admin','carrier','auditor','scim'))
                """,
            ]),
        Migration(
            15, "organization_audit_logs",
            why:
                "one verifiable log per organization and one for the deployment; the single log of earlier versions stays, frozen at its size",
            [
                // One row per log: its origin (set when it opens, never changed), size, frontier and newest
                // checkpoint (so the signer reads every log's state in one query). The frozen log's row is the old
                // log_state; its origin and root are filled in once, from its own checkpoints.
                """
                CREATE TABLE audit_logs (
                  id {id} PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN ('frozen','deployment','organization')),
                  organization_id {id} UNIQUE, origin TEXT UNIQUE, size {int} NOT NULL, frontier {blob} NOT NULL,
                  root {blob}, checkpoint_size {int}, checkpoint_at {ts}, created_at {ts} NOT NULL,
                  updated_at {ts} NOT NULL)
                """,
                """
                INSERT INTO audit_logs (id, kind, size, frontier, created_at, updated_at)
                SELECT 'frozen', 'frozen', size, frontier, updated_at, updated_at FROM log_state WHERE size > 0
                """,
                """
                CREATE TABLE log_leaves (
                  log_id {id} NOT NULL, leaf_index {int} NOT NULL, event_seq {int} NOT NULL UNIQUE,
                  leaf_hash {blob} NOT NULL, PRIMARY KEY (log_id, leaf_index))
                """,
                """
                CREATE TABLE log_nodes (
                  log_id {id} NOT NULL, level {int} NOT NULL, idx {int} NOT NULL, hash {blob} NOT NULL,
                  PRIMARY KEY (log_id, level, idx))
                """,
                """
                CREATE TABLE log_checkpoints (
                  log_id {id} NOT NULL, size {int} NOT NULL, root {blob} NOT NULL, note TEXT NOT NULL,
                  created_at {ts} NOT NULL, PRIMARY KEY (log_id, size))
                """,
            ],
            sqlite: appendOnly(["log_leaves", "log_nodes", "log_checkpoints"], .sqlite)
                + ["audit_leaves", "merkle_nodes"].map { table in
                    """
                    CREATE TRIGGER \(table)_frozen BEFORE INSERT ON \(table)
                    BEGIN SELECT RAISE(ABORT, 'the deployment-wide audit log is frozen'); END
                    """
                },
            postgres: [
                """
                CREATE FUNCTION cubby_audit_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'the deployment-wide audit log is frozen'; END $$
                """
            ]
                + appendOnly(["log_leaves", "log_nodes", "log_checkpoints"], .postgres)
                + ["audit_leaves", "merkle_nodes"].map { table in
                    """
                    CREATE TRIGGER \(table)_frozen BEFORE INSERT ON \(table)
                    FOR EACH ROW EXECUTE FUNCTION cubby_audit_frozen()
                    """
                }),
        Migration(
            16, "outbox_deliveries",
            why:
                "one outbox message fans out to one delivery per channel and target (file, email, SMS, each webhook subscription), each with its own state, attempts and lease; webhook subscriptions",
            [
                """
                CREATE TABLE outbox_messages (
                  id {id} PRIMARY KEY, kind TEXT NOT NULL, organization_id {id}, recipient_id {id}, parcel_id {id},
                  payload {blob}, sealed {bool} NOT NULL, created_at {ts} NOT NULL, finished_at {ts})
                """,
                """
                CREATE TABLE outbox_deliveries (
                  id {serial}, message_id {id} NOT NULL REFERENCES outbox_messages(id), channel TEXT NOT NULL,
                  target TEXT NOT NULL,
                  state TEXT NOT NULL CHECK (state IN ('pending','delivering','delivered','failed','dead')),
                  attempts {int} NOT NULL DEFAULT 0, next_attempt_at {ts} NOT NULL, lease_token TEXT, last_error TEXT,
                  created_at {ts} NOT NULL, updated_at {ts} NOT NULL, delivered_at {ts})
                """,
                "CREATE UNIQUE INDEX outbox_deliveries_target ON outbox_deliveries (message_id, channel, target)",
                // What a worker claims: due deliveries of its channel, including those whose lease ran out.
                """
                CREATE INDEX outbox_deliveries_due ON outbox_deliveries (channel, next_attempt_at)
                WHERE state IN ('pending','delivering','failed')
                """,
                // Undelivered notifications of the one-channel outbox go to the `recipient` channel, which the
                // server maps to the recipient channel it is configured with.
                """
                INSERT INTO outbox_messages (id, kind, recipient_id, parcel_id, payload, sealed, created_at)
                SELECT notification_id, kind, recipient_id, parcel_id, payload, TRUE, created_at FROM outbox
                WHERE delivered_at IS NULL
                """,
                """
                INSERT INTO outbox_deliveries (message_id, channel, target, state, attempts, next_attempt_at, last_error,
                  created_at, updated_at)
                SELECT notification_id, 'recipient', recipient_id, CASE WHEN attempts > 0 THEN 'failed' ELSE 'pending' END,
                  attempts, available_at, last_error, created_at, created_at FROM outbox WHERE delivered_at IS NULL
                """,
                "DROP TABLE outbox",
                """
                CREATE TABLE webhook_subscriptions (
                  id {id} PRIMARY KEY, organization_id {id} NOT NULL REFERENCES organizations(id), carrier_id {id},
                  site_ids TEXT, url TEXT NOT NULL, events TEXT NOT NULL, secret {blob} NOT NULL, previous_secret {blob},
                  previous_secret_until {ts}, created_at {ts} NOT NULL, updated_at {ts} NOT NULL, disabled_at {ts},
                  disabled_reason TEXT, last_success_at {ts})
                """,
                "CREATE INDEX webhook_subscriptions_org ON webhook_subscriptions (organization_id, carrier_id)",
            ]),
        Migration(
            18, "notification_preferences",
            why:
                "which channels each recipient wants per kind of message, and the history of every consent given or withdrawn",
            [
                // Only the channels switched off are stored: every channel is on until a choice says otherwise.
                """
                CREATE TABLE notification_preferences (
                  recipient_id {id} NOT NULL REFERENCES recipients(id), message_kind TEXT NOT NULL,
                  channel TEXT NOT NULL, updated_at {ts} NOT NULL, PRIMARY KEY (recipient_id, message_kind, channel))
                """,
                // Who chose what, when and from where (sealed under the recipient's data key).
                """
                CREATE TABLE notification_consents (
                  id {serial}, recipient_id {id} NOT NULL REFERENCES recipients(id), message_kind TEXT NOT NULL,
                  channel TEXT NOT NULL, enabled {bool} NOT NULL, at {ts} NOT NULL, actor_kind TEXT NOT NULL,
                  actor_id TEXT, source TEXT NOT NULL, origin {blob})
                """,
                "CREATE INDEX notification_consents_recipient ON notification_consents (recipient_id, id)",
            ]),
        Migration(
            19, "parcel_notices",
            why:
                "recipients are reminded of waiting parcels on the site's schedule, told when a parcel expired and when it was picked up, each notice once per parcel however many servers run; sites gain quiet hours for SMS reminders",
            [
                // One row per notice a parcel got: `reminder:<hour>` (sent or skipped), `expiry`, `receipt`. The key
                // makes a second writer's insert a no-op, in the transaction that writes the message.
                """
                CREATE TABLE parcel_notices (
                  parcel_id {id} NOT NULL REFERENCES parcels(id), notice TEXT NOT NULL, outcome TEXT NOT NULL,
                  message_id {id}, at {ts} NOT NULL, PRIMARY KEY (parcel_id, notice))
                """,
                // `HH:MM-HH:MM` in the site's time zone; empty for none.
                "ALTER TABLE sites ADD COLUMN quiet_hours TEXT NOT NULL DEFAULT '21:00-08:00'",
            ]),
        Migration(
            21, "siem_forwarding",
            why:
                "security events forwarded to a SIEM over syslog: one lease per sink, so one process sends at a time, and per log the next leaf to send",
            [
                """
                CREATE TABLE siem_sinks (
                  sink TEXT PRIMARY KEY, lease_token TEXT NOT NULL, lease_until {ts} NOT NULL, started_at {ts} NOT NULL)
                """,
                """
                CREATE TABLE siem_cursors (
                  sink TEXT NOT NULL REFERENCES siem_sinks(sink), log_key TEXT NOT NULL, next_index {int} NOT NULL,
                  updated_at {ts} NOT NULL, PRIMARY KEY (sink, log_key))
                """,
            ]),
        Migration(
            22, "unit_last_seen",
            why:
                "when each unit's edge controller was last linked to a server process, so a unit that goes silent raises an alert",
            [
                "ALTER TABLE units ADD COLUMN last_seen_at {ts}",
                "CREATE INDEX units_last_seen ON units (last_seen_at)",
            ]),
        Migration(
            23, "alert_signals",
            why: "a burst of signals from one unit is one alert that counts them, not one alert per signal",
            [
                "ALTER TABLE alerts ADD COLUMN signals {int} NOT NULL DEFAULT 1",
                "ALTER TABLE alerts ADD COLUMN last_signal_at {ts}",
            ]),
        Migration(
            24, "alert_acknowledgement",
            why: "staff acknowledge an open alert (someone is on it) before they resolve it",
            [
                "ALTER TABLE alerts ADD COLUMN acknowledged_at {ts}",
                "ALTER TABLE alerts ADD COLUMN acknowledged_by TEXT",
            ]),
        Migration(
            25, "on_call",
            why:
                "alerts page the people on call at their site by email and SMS, and escalate down the list until someone acknowledges; staff gain a sealed phone number",
            [
                // The staff member's own data key (wrapped by the key-encryption key) and their sealed contact data.
                "ALTER TABLE staff_accounts ADD COLUMN data_key {blob}",
                "ALTER TABLE staff_accounts ADD COLUMN contact {blob}",
                // One row per contact, in the order they are paged. `channels` and `severities` are comma-separated.
                """
                CREATE TABLE on_call (
                  site_id {id} NOT NULL REFERENCES sites(id), position {int} NOT NULL,
                  account_id {id} NOT NULL REFERENCES staff_accounts(id), channels TEXT NOT NULL,
                  severities TEXT NOT NULL, PRIMARY KEY (site_id, position))
                """,
                "ALTER TABLE sites ADD COLUMN escalation_delay_seconds {int} NOT NULL DEFAULT 300",
                // The next step to page, and when; NULL for alerts raised before paging existed (never paged).
                "ALTER TABLE alerts ADD COLUMN page_step {int} NOT NULL DEFAULT 0",
                "ALTER TABLE alerts ADD COLUMN next_page_at {ts}",
                "ALTER TABLE alerts ADD COLUMN acknowledge_note TEXT",
                "ALTER TABLE alerts ADD COLUMN resolve_note TEXT",
                "CREATE INDEX alerts_next_page ON alerts (next_page_at)",
                """
                CREATE TABLE alert_pages (
                  alert_id {id} NOT NULL REFERENCES alerts(id), step {int} NOT NULL, account_id {id},
                  channels TEXT NOT NULL, severity TEXT NOT NULL, message_id {id}, paged_at {ts} NOT NULL,
                  PRIMARY KEY (alert_id, step))
                """,
            ]),
        Migration(
            27, "parcel_search",
            why:
                "staff search parcels newest first by organization, tracking number, recipient or state, a page at a time, without reading every parcel",
            [
                "CREATE INDEX parcels_org_created ON parcels (organization_id, created_at, id)",
                "CREATE INDEX parcels_tracking ON parcels (tracking_number)",
                "CREATE INDEX parcels_recipient_created ON parcels (recipient_id, created_at, id)",
                // The few parcels in one state (expired, deposited) among many picked up, newest first.
                "CREATE INDEX parcels_state_created ON parcels (state, created_at, id)",
            ]),
        Migration(
            28, "report_indexes",
            why:
                "the portal's reports read one site's deposits, pickups, removals and rejected codes of a period through an index, not by scanning every past parcel and event",
            [
                // Each covers what a report counts per unit and day, so the count is read from the index alone.
                "CREATE INDEX parcels_site_deposited ON parcels (site_id, deposited_at, unit_id)",
                "CREATE INDEX parcels_site_picked_up ON parcels (site_id, picked_up_at, deposited_at, unit_id)",
                "CREATE INDEX parcels_site_removed ON parcels (site_id, removed_at, unit_id) WHERE removed_at IS NOT NULL",
                """
                CREATE INDEX audit_codes_rejected ON audit_events (site_id, occurred_at, unit_id)
                  WHERE type = 'pickup.code_rejected'
                """,
            ]),
        Migration(
            29, "compartment_positions",
            why:
                "the portal draws a unit's compartments where they are in the cabinet: each has its column, its row from the top and how many rows it spans",
            [
                // NULL for a compartment whose place is not known: the portal places those after the known ones.
                "ALTER TABLE compartments ADD COLUMN grid_column {int}",
                "ALTER TABLE compartments ADD COLUMN grid_row {int}",
                "ALTER TABLE compartments ADD COLUMN grid_rows {int} NOT NULL DEFAULT 1",
            ],
            // Units built before: a generated label (column letter, then the row from the top counted from 1, as
            // A1, A2 … B1) says where the compartment is; labels of another form stay unplaced.
            sqlite: [
                """
                UPDATE compartments SET grid_column = unicode(label) - 65, grid_row = CAST(substr(label, 2) AS INTEGER) - 1
                  WHERE length(label) BETWEEN 2 AND 4 AND label GLOB '[A-Z][1-9]*' AND substr(label, 2) NOT GLOB '*[^0-9]*'
                """
            ],
            postgres: [
                """
                UPDATE compartments SET grid_column = ascii(label) - 65, grid_row = CAST(substr(label, 2) AS BIGINT) - 1
                  WHERE label ~ '^[A-Z][1-9][0-9]{0,2}$'
                """
            ]),
        Migration(
            32, "signing_keys",
            why:
                "the Ed25519 keys that sign checkpoints and QR tokens rotate while several processes share the key file: each rotation's new key is a row, its private half sealed under a key derived from the key-encryption key, which every process reads",
            [
                // `id` is hex of the first 8 bytes of SHA-256 over the public key; `previous_id` the key it replaced
                // (the key file's own key for the first rotation), which stays valid until `previous_until`.
                // One successor per key: two rotations racing from the same key cannot both win.
                """
                CREATE TABLE signing_keys (
                  seq {serial}, id {id} NOT NULL UNIQUE,
                  purpose TEXT NOT NULL CHECK (purpose IN ('checkpoint', 'qr')),
                  public_key {blob} NOT NULL, sealed_private_key {blob} NOT NULL, kek_id TEXT NOT NULL,
                  previous_id {id} NOT NULL, previous_until {ts} NOT NULL, created_at {ts} NOT NULL,
                  UNIQUE (purpose, previous_id))
                """,
                // A forensic bundle carries its log's rotations: found through this index, not by reading the log.
                "CREATE INDEX audit_key_rotations ON audit_events (seq) WHERE type = 'log.key_rotated'",
            ]),
        Migration(
            34, "staff_email_sealed",
            why:
                "staff emails are sealed under each member's data key; the email column keeps their keyed hash, unique as the address was, to find an account at sign-in",
            [
                // Filled at the server's next start (it holds the keys): rows in clear are sealed then.
                "ALTER TABLE staff_accounts ADD COLUMN email_sealed {blob}"
            ]),
        Migration(
            35, "outbox_messages_parcel",
            why:
                "a pickup, a removal and an expiry give up their parcel's waiting reminders: the parcel's messages are found through this index instead of by reading every message the outbox ever held",
            [
                "CREATE INDEX outbox_messages_parcel ON outbox_messages (parcel_id, kind) WHERE parcel_id IS NOT NULL"
            ]),
        Migration(
            36, "outbox_errors_masked",
            why:
                "a relay's or gateway's error quotes the address or number it refused; the outbox now keeps errors masked (DeliveryErrorText), and this masks the ones kept before",
            [], rows: { s in try await s.maskDeliveryErrors() }),
    ]
}
