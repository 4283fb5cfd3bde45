/// Every type of event the server writes to the audit log; the raw value is the dotted type stored in
/// `AuditRecord.type` and hashed into the log's leaves, so a raw value never changes once written.
///
/// `docs/audit.md` ("Event types") describes each one, and `AuditEventTypeTests` keeps that table and
/// this enum equal.
public enum AuditEventType: String, CaseIterable, Sendable, Codable, Hashable {
    /// A staff member acknowledged an open alert: someone is on it.
    case alertAcknowledged = "alert.acknowledged"
    /// A staff member downloaded audit events from the portal: an export or a forensic bundle.
    case auditExported = "audit.exported"
    /// Nobody acknowledged an alert within its site's escalation delay: the next on-call contact was paged.
    case alertEscalated = "alert.escalated"
    /// A new alert paged the first on-call contact of its site.
    case alertPaged = "alert.paged"
    /// A staff member resolved an open alert.
    case alertResolved = "alert.resolved"
    /// A staff member put an out-of-service compartment back in service.
    case compartmentBackInService = "compartment.back_in_service"
    /// A compartment closed empty after its parcel was picked up or removed, and is available again.
    case compartmentFreed = "compartment.freed"
    /// A compartment closed with an item still inside after its parcel was picked up or removed.
    case compartmentItemLeft = "compartment.item_left"
    /// A compartment went out of service: taken out by a staff member, or its lock failed at the unit.
    case compartmentOutOfService = "compartment.out_of_service"
    /// Credentials were issued: a deposited parcel's pickup PIN and QR code, or an API credential.
    case credentialIssued = "credential.issued"
    /// An API credential was revoked.
    case credentialRevoked = "credential.revoked"
    /// A staff member asked for a final outbox delivery (delivered or dead) to be sent again with the same message id.
    case deliveryRedelivered = "delivery.redelivered"
    /// A staff member made a failed or waiting outbox delivery due now.
    case deliveryRetried = "delivery.retried"
    /// A compartment's door closed, with or without an item inside.
    case doorClosed = "door.closed"
    /// The server commanded a compartment's door to open (drop-off, pickup or removal).
    case doorOpenCommanded = "door.open_commanded"
    /// A locked-down unit refused to open a door.
    case doorOpenRefused = "door.open_refused"
    /// A compartment's door opened.
    case doorOpened = "door.opened"
    /// `cubby keys rotate` made a new wrapping key of the key ring and began re-wrapping every data key under it.
    case keysRotationStarted = "keys.rotation_started"
    /// A key rotation finished: every data key is wrapped by the new primary key and the old keys were destroyed.
    case keysRotated = "keys.rotated"
    /// `cubby keys reseal` sealed the key file under a new key-encryption key (another provider, passphrase or file).
    case keysResealed = "keys.resealed"
    /// A log opened: its first leaf, naming its origin and the frozen deployment-wide log it follows.
    case logGenesis = "log.genesis"
    /// The log recorded that it was idle, so that a fresh checkpoint can be signed.
    case logHeartbeat = "log.heartbeat"
    /// A signing key (checkpoints or QR tokens) was rotated: names the old key and the new, and the overlap's end.
    case logKeyRotated = "log.key_rotated"
    /// An organization was created with its first super-administrator (`cubby setup`, `cubby organization create`).
    case organizationCreated = "organization.created"
    /// The demo seeder of earlier versions created an organization with its site, units and credentials.
    case organizationSeeded = "organization.seeded"
    /// A carrier or courier announced a parcel that is on its way.
    case parcelAnnounced = "parcel.announced"
    /// An announced or reserved parcel was called off.
    case parcelCancelled = "parcel.cancelled"
    /// Staff moved a deposited parcel's pickup deadline later.
    case parcelDeadlineExtended = "parcel.deadline_extended"
    /// A parcel was deposited: its door closed on it in the reserved compartment.
    case parcelDeposited = "parcel.deposited"
    /// A deposited parcel was not picked up in time.
    case parcelExpired = "parcel.expired"
    /// Staff gave a misdelivered parcel to another recipient before its pickup.
    case parcelReassigned = "parcel.reassigned"
    /// An administrator took an expired parcel out of its compartment.
    case parcelRemoved = "parcel.removed"
    /// A courier's drop-off reserved a compartment for a parcel.
    case parcelReserved = "parcel.reserved"
    /// A pickup code (PIN or QR) matched no live pickup credential at the unit.
    case pickupCodeRejected = "pickup.code_rejected"
    /// A unit reported a pickup of a parcel that is no longer deposited.
    case pickupConflict = "pickup.conflict"
    /// A recipient reported, from the link in a pickup receipt, that they did not pick the parcel up.
    case pickupReported = "pickup.reported"
    /// A pickup code was refused unchecked because PIN entry at the unit is locked out or suspended.
    case pickupRefused = "pickup.refused"
    /// A parcel was picked up with its code.
    case pickupSucceeded = "pickup.succeeded"
    /// A recipient was created (one by one or by an import).
    case recipientCreated = "recipient.created"
    /// A recipient was deactivated: nothing new is delivered to them.
    case recipientDeactivated = "recipient.deactivated"
    /// A recipient's notification preferences changed (staff, the recipient, or an unsubscribe link).
    case recipientPreferencesChanged = "recipient.preferences_changed"
    /// A CSV import of recipients was written: the counts of created, updated, unchanged and deactivated rows.
    case recipientImportCompleted = "recipient.import_completed"
    /// A deactivated recipient was made active again.
    case recipientReactivated = "recipient.reactivated"
    /// A recipient's fields changed; the detail names the fields, never their values.
    case recipientUpdated = "recipient.updated"
    /// A resident asked for a sign-in code and one was sent.
    case residentSignInCodeSent = "resident.sign_in_code_sent"
    /// A known resident's sign-in failed.
    case residentSignInFailed = "resident.sign_in_failed"
    /// A resident signed in with a code.
    case residentSignedIn = "resident.signed_in"
    /// A staff member's phone number was set or removed (the number itself is never in the log).
    case staffContactChanged = "staff.contact_changed"
    /// A staff account was deactivated and its sessions ended.
    case staffDeactivated = "staff.deactivated"
    /// A staff member finished enrolling (password and authenticator) and got recovery codes.
    case staffEnrolled = "staff.enrolled"
    /// A fresh enrollment link was issued for an account that has not finished enrolling.
    case staffEnrollmentLinkIssued = "staff.enrollment_link_issued"
    /// A staff account was created and its enrollment link issued.
    case staffInvited = "staff.invited"
    /// A staff account was locked after too many failed sign-ins.
    case staffLocked = "staff.locked"
    /// A staff member used a recovery code as the second factor.
    case staffRecoveryCodeUsed = "staff.recovery_code_used"
    /// A staff account's role or sites changed.
    case staffRoleChanged = "staff.role_changed"
    /// A staff sign-in failed.
    case staffSignInFailed = "staff.sign_in_failed"
    /// A staff member signed in with password and second factor.
    case staffSignedIn = "staff.signed_in"
    /// A staff member signed out of one session.
    case staffSignedOut = "staff.signed_out"
    /// A staff member ended every session of the account.
    case staffSignedOutEverywhere = "staff.signed_out_everywhere"
    /// A staff member's step-up code was refused.
    case staffStepUpFailed = "staff.step_up_failed"
    /// A staff member confirmed a fresh authenticator code for a step-up action.
    case staffSteppedUp = "staff.stepped_up"
    /// A unit's edge controller started.
    case unitControllerStarted = "unit.controller_started"
    /// A unit's edge controller enrolled and received its device credential.
    case unitEdgeEnrolled = "unit.edge_enrolled"
    /// A one-time enrollment code was issued for a unit's edge controller.
    case unitEnrollmentCodeIssued = "unit.enrollment_code_issued"
    /// An event from a unit does not continue the unit's journal hash chain.
    case unitJournalChainBroken = "unit.journal_chain_broken"
    /// Events of a unit's journal are missing: a later sequence number arrived first.
    case unitJournalGap = "unit.journal_gap"
    /// A unit lifted its lockdown after the server's release command.
    case unitLockdownLiftedAtUnit = "unit.lockdown_lifted_at_unit"
    /// The server lifted a unit's lockdown.
    case unitLockdownReleased = "unit.lockdown_released"
    /// A unit was locked down: after its tamper signal, or by staff from the server.
    case unitLockedDown = "unit.locked_down"
    /// A unit confirmed it locked every board on the server's lockdown command.
    case unitLockedDownAtUnit = "unit.locked_down_at_unit"
    /// A unit lost mains power and runs on its battery.
    case unitMainsLost = "unit.mains_lost"
    /// A unit's mains power came back.
    case unitMainsRestored = "unit.mains_restored"
    /// A unit lost its network connection.
    case unitNetworkDown = "unit.network_down"
    /// A unit's network connection came back.
    case unitNetworkUp = "unit.network_up"
    /// No server process has been linked to a unit's edge controller for the configured time; an alert is raised.
    case unitOffline = "unit.offline"
    /// A unit that was reported offline is linked again; its offline alert is resolved.
    case unitBackOnline = "unit.back_online"
    /// An administrator lifted a suspension or lockout of PIN entry at a unit.
    case unitPinEntryResumed = "unit.pin_entry_resumed"
    /// PIN entry at a unit was suspended after too many failures in 24 hours.
    case unitPinEntrySuspended = "unit.pin_entry_suspended"
    /// PIN entry at a unit was locked out for a while after consecutive failures.
    case unitPinLockedOut = "unit.pin_locked_out"
    /// A unit's service door closed.
    case unitServiceDoorClosed = "unit.service_door_closed"
    /// A unit's service door opened.
    case unitServiceDoorOpened = "unit.service_door_opened"
    /// A unit's tamper sensor fired.
    case unitTamper = "unit.tamper"
    // provisioning
    /// A carrier was created with the sites it serves.
    case carrierCreated = "carrier.created"
    /// A carrier was deactivated and its courier and carrier credentials revoked.
    case carrierDeactivated = "carrier.deactivated"
    /// A carrier's name or the sites it serves changed.
    case carrierUpdated = "carrier.updated"
    /// An empty compartment's size, inner dimensions or accessible flag changed.
    case compartmentChanged = "compartment.changed"
    /// A site was created.
    case siteCreated = "site.created"
    /// A site's settings changed.
    case siteUpdated = "site.updated"
    /// A site's on-call list or escalation delay was replaced.
    case siteOnCallChanged = "site.on_call_changed"
    /// A locker unit was created from a layout, with its compartments.
    case unitCreated = "unit.created"
    /// An empty locker unit was decommissioned and its device credentials and enrollment codes revoked.
    case unitDecommissioned = "unit.decommissioned"
    /// A locker unit was renamed.
    case unitRenamed = "unit.renamed"
    // webhooks
    /// A webhook subscription was created and its signing secret shown once.
    case webhookCreated = "webhook.created"
    /// A webhook subscription was deleted; its pending deliveries were given up.
    case webhookDeleted = "webhook.deleted"
    /// A webhook subscription was disabled: its endpoint answered 410, or failed every attempt for the retry span.
    case webhookDisabled = "webhook.disabled"
    /// A staff member or carrier asked for one delivery of a webhook subscription to be sent again now.
    case webhookDeliveryRetried = "webhook.delivery_retried"
    /// A webhook subscription's signing secret was rotated; the old one still signs during the overlap.
    case webhookSecretRotated = "webhook.secret_rotated"
    /// A webhook subscription's address, events or standing changed; the detail names the fields.
    case webhookUpdated = "webhook.updated"
}
