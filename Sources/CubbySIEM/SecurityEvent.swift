import CubbyCore
import Foundation

/// How severe a forwarded event is, in the five steps both CEF and OCSF know.
public enum SecuritySeverity: Int, Sendable, CaseIterable {
    case informational = 1
    case low, medium, high, critical

    /// OCSF `severity_id` (1 Informational … 5 Critical).
    public var ocsfID: Int { rawValue }
    public var ocsfName: String {
        switch self {
        case .informational: "Informational"
        case .low: "Low"
        case .medium: "Medium"
        case .high: "High"
        case .critical: "Critical"
        }
    }
    /// CEF severity, 0–10: Low 0–3, Medium 4–6, High 7–8, Very-High 9–10.
    public var cefValue: Int {
        switch self {
        case .informational: 1
        case .low: 3
        case .medium: 5
        case .high: 8
        case .critical: 10
        }
    }
    public var syslog: SyslogSeverity {
        switch self {
        case .informational: .informational
        case .low: .notice
        case .medium: .warning
        case .high: .error
        case .critical: .critical
        }
    }
}

/// Which OCSF class an audit event is forwarded as, with its activity.
public enum SecurityEventClass: Sendable, Equatable {
    /// Detection Finding (2004): alerts, tamper, lockdown and release, suspended PIN entry, broken journals.
    case finding(FindingActivity, title: String)
    /// Authentication (3002): staff and resident sign-ins, their failures, sign-outs and step-ups.
    case authentication(AuthenticationActivity)
    /// Account Change (3001): staff accounts and API or device credentials created, changed, locked, revoked.
    case accountChange(AccountChangeActivity)

    public var ocsfClassUID: Int {
        switch self {
        case .finding: 2004
        case .authentication: 3002
        case .accountChange: 3001
        }
    }

    /// The CEF `cat` (device event category).
    public var category: String {
        switch self {
        case .finding: "finding"
        case .authentication: "authentication"
        case .accountChange: "account_change"
        }
    }
}

/// Detection Finding activities (OCSF 1.5.0).
public enum FindingActivity: Int, Sendable {
    case create = 1
    case update = 2
    case close = 3
    public var name: String {
        switch self {
        case .create: "Create"
        case .update: "Update"
        case .close: "Close"
        }
    }
}

/// Authentication activities (OCSF 1.5.0): 1 Logon, 2 Logoff, 99 Other (a step-up's fresh second factor).
public enum AuthenticationActivity: Int, Sendable {
    case logon = 1
    case logoff = 2
    case other = 99
    public var name: String {
        switch self {
        case .logon: "Logon"
        case .logoff: "Logoff"
        case .other: "Other"
        }
    }
}

/// Account Change activities (OCSF 1.5.0).
public enum AccountChangeActivity: Int, Sendable {
    case create = 1
    case enable = 2
    case passwordReset = 4
    case disable = 5
    case delete = 6
    case attachPolicy = 7
    case lock = 9
    case mfaFactorEnable = 10
    case other = 99
    public var name: String {
        switch self {
        case .create: "Create"
        case .enable: "Enable"
        case .passwordReset: "Password Reset"
        case .disable: "Disable"
        case .delete: "Delete"
        case .attachPolicy: "Attach Policy"
        case .lock: "Lock"
        case .mfaFactorEnable: "MFA Factor Enable"
        case .other: "Other"
        }
    }
}

/// One audit event on its way to a SIEM: the record as the log holds it, where it sits in which log (so a SOC can
/// ask for its inclusion proof), and the names of the places it names.
public struct SecurityEvent: Sendable, Equatable {
    public var record: AuditRecord
    public var leafIndex: Int64
    public var logOrigin: String
    public var kind: SecurityEventClass
    public var severity: SecuritySeverity
    public var siteName: String?
    public var unitName: String?
    public var compartmentLabel: String?

    public init(
        record: AuditRecord, leafIndex: Int64, logOrigin: String, kind: SecurityEventClass, severity: SecuritySeverity,
        siteName: String? = nil, unitName: String? = nil, compartmentLabel: String? = nil
    ) {
        self.record = record
        self.leafIndex = leafIndex
        self.logOrigin = logOrigin
        self.kind = kind
        self.severity = severity
        self.siteName = siteName
        self.unitName = unitName
        self.compartmentLabel = compartmentLabel
    }

    /// The account an account change is about: the staff account or credential named in the detail, else the actor.
    public var subjectUID: String? {
        record.detail["account"] ?? record.detail["credential"] ?? record.actor.id
    }
}

/// Which audit events go to the SIEM, and as what. Everything else (parcel traffic, doors, provisioning) stays in the
/// audit log and its exports.
public enum SecurityEventMapping {
    /// The class and severity of `record`, or nil when it is not forwarded.
    public static func classify(_ record: AuditRecord) -> (SecurityEventClass, SecuritySeverity)? {
        guard let type = AuditEventType(rawValue: record.type) else { return nil }
        switch type {
        case .unitTamper: return (.finding(.create, title: "Tamper signal at a locker unit"), .critical)
        case .unitLockedDown: return (.finding(.create, title: "Locker unit locked down"), .critical)
        case .unitLockedDownAtUnit: return (.finding(.update, title: "Unit confirmed its lockdown"), .high)
        case .doorOpenRefused: return (.finding(.update, title: "Locked-down unit refused to open a door"), .high)
        case .unitLockdownReleased: return (.finding(.close, title: "Lockdown released by staff"), .medium)
        case .unitLockdownLiftedAtUnit: return (.finding(.close, title: "Unit lifted its lockdown"), .medium)
        case .unitPinEntrySuspended: return (.finding(.create, title: "PIN entry suspended at a unit"), .high)
        case .unitPinLockedOut: return (.finding(.create, title: "PIN entry locked out at a unit"), .medium)
        case .unitPinEntryResumed: return (.finding(.close, title: "PIN entry resumed by staff"), .low)
        case .unitJournalChainBroken: return (.finding(.create, title: "Unit journal hash chain broken"), .high)
        case .unitJournalGap: return (.finding(.create, title: "Unit journal events missing"), .medium)
        case .unitOffline: return (.finding(.create, title: "Locker unit offline"), .medium)
        case .unitBackOnline: return (.finding(.close, title: "Locker unit back online"), .low)
        case .unitMainsLost: return (.finding(.create, title: "Locker unit lost mains power"), .medium)
        case .unitServiceDoorOpened: return (.finding(.create, title: "Service door opened"), .medium)
        case .pickupConflict: return (.finding(.create, title: "Pickup of a parcel no longer deposited"), .medium)
        case .pickupReported: return (.finding(.create, title: "Recipient reported a pickup as not theirs"), .high)
        case .alertAcknowledged: return (.finding(.update, title: "Alert acknowledged"), .informational)
        case .alertResolved: return (.finding(.close, title: "Alert resolved"), .informational)
        case .alertPaged: return (.finding(.update, title: "Alert paged the first on-call contact"), .informational)
        case .alertEscalated: return (.finding(.update, title: "Alert escalated to the next on-call contact"), .low)
        case .staffContactChanged: return (.accountChange(.other), .low)
        case .staffSignedIn: return (.authentication(.logon), .informational)
        case .staffRecoveryCodeUsed: return (.authentication(.logon), .medium)
        case .staffSignInFailed: return (.authentication(.logon), .medium)
        case .staffSignedOut, .staffSignedOutEverywhere: return (.authentication(.logoff), .informational)
        case .staffSteppedUp: return (.authentication(.other), .informational)
        case .staffStepUpFailed: return (.authentication(.other), .medium)
        case .residentSignedIn: return (.authentication(.logon), .informational)
        case .residentSignInFailed: return (.authentication(.logon), .low)
        case .staffInvited: return (.accountChange(.create), .low)
        case .staffEnrollmentLinkIssued: return (.accountChange(.passwordReset), .low)
        case .staffEnrolled: return (.accountChange(.mfaFactorEnable), .low)
        case .staffRoleChanged: return (.accountChange(.attachPolicy), .medium)
        case .staffLocked: return (.accountChange(.lock), .high)
        case .staffDeactivated: return (.accountChange(.disable), .medium)
        case .credentialIssued:
            // A parcel's pickup codes are parcel traffic, not an account change.
            return record.parcelId == nil ? (.accountChange(.create), .low) : nil
        case .credentialRevoked: return (.accountChange(.delete), .medium)
        case .unitEdgeEnrolled: return (.accountChange(.create), .low)
        case .logKeyRotated: return (.finding(.update, title: "Signing key rotated"), .medium)
        case .keysRotationStarted: return (.finding(.create, title: "Key rotation started"), .informational)
        case .keysRotated: return (.finding(.close, title: "Key rotation finished, old keys destroyed"), .low)
        case .keysResealed: return (.finding(.create, title: "Key file sealed under a new key-encryption key"), .medium)
        default: return nil
        }
    }
}
