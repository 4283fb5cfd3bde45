#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Which verifiable log an audit event belongs to: each organization has its own, events of no organization
/// go to the deployment's log, and the single log of earlier versions stays readable, frozen at its size.
public enum AuditLogID: Hashable, Sendable, CustomStringConvertible {
    /// The one log of the whole deployment that earlier versions kept; it no longer grows.
    case frozen
    /// Events that belong to no organization (the deployment's own).
    case deployment
    /// One organization's events.
    case organization(OrganizationID)

    /// The log an event of `organization` goes to.
    public init(organization: UUID?) {
        self = organization.map { .organization(OrganizationID($0)) } ?? .deployment
    }

    /// The key stored in the database: `frozen`, `deployment` or the organization's id.
    public var storageKey: String {
        switch self {
        case .frozen: "frozen"
        case .deployment: "deployment"
        case .organization(let id): id.uuid.idString
        }
    }

    /// The log named by a stored key, or nil when the key names none.
    public init?(storageKey: String) {
        switch storageKey {
        case "frozen": self = .frozen
        case "deployment": self = .deployment
        default:
            guard let id = OrganizationID(uuidString: storageKey), id.uuid.idString == storageKey else { return nil }
            self = .organization(id)
        }
    }

    /// The last part of the log's origin line: `deployment` or the organization's id.
    public var originSuffix: String { storageKey }

    public var description: String {
        switch self {
        case .frozen: "the frozen deployment-wide log"
        case .deployment: "the deployment log"
        case .organization(let id): "the log of organization \(id.uuid.idString)"
        }
    }
}
