import CubbyStore
import Foundation
import Logging

/// Appends each recipient notification as one JSON line to a file and fsyncs it (`CUBBY_NOTIFY_FILE`): the demo's
/// and the tests' channel.
public struct FileNotificationChannel: OutboxChannel {
    public let path: String
    public let name: String

    public init(path: String, name: String = "file") {
        self.path = path
        self.name = name
    }

    public func deliver(messageId: String, notification: OutboxNotification, target: String) async -> DeliveryOutcome {
        do {
            switch notification {
            case .parcelReady(let note): try append(note)
            case .signInCode(let note): try append(note)
            case .parcelNotice(let note): try append(note)
            case .alertPage(let note): try append(note)
            case .webhookEvent: return .permanentFailure("the file channel takes recipients' notifications only")
            }
            return .delivered
        } catch {
            return .transientFailure(String(describing: error))
        }
    }

    func append(_ note: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var line = try encoder.encode(note)
        line.append(0x0A)
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw NotificationError.cannotOpen(path, errno) }
        defer { close(fd) }
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == line.count else { throw NotificationError.shortWrite(path) }
        guard fsync(fd) == 0 else { throw NotificationError.shortWrite(path) }
    }
}

/// Logs each recipient notification with the PIN masked and no QR token: for servers with no channel set up.
public struct LogNotificationChannel: OutboxChannel {
    let logger: Logger
    public let name = "log"
    public init(logger: Logger) { self.logger = logger }

    public func deliver(messageId: String, notification: OutboxNotification, target: String) async -> DeliveryOutcome {
        switch notification {
        case .parcelReady(let note):
            logger.info(
                "notification",
                metadata: [
                    "kind": "\(note.kind)", "recipientId": "\(note.recipientId)", "parcelId": "\(note.parcelId)",
                    "compartment": "\(note.compartmentLabel)",
                    "pin": "\(String(repeating: "•", count: max(0, note.pin.count - 2)) + note.pin.suffix(2))",
                    "expiresAt": "\(note.expiresAt)",
                ])
        case .signInCode(let note):
            logger.info(
                "notification",
                metadata: [
                    "kind": "\(note.kind)", "recipientId": "\(note.recipientId)",
                    "code": "\(String(repeating: "•", count: max(0, note.code.count - 2)) + note.code.suffix(2))",
                    "expiresAt": "\(note.expiresAt)",
                ])
        case .parcelNotice(let note):
            logger.info(
                "notification",
                metadata: [
                    "kind": "\(note.kind)", "recipientId": "\(note.recipientId)", "parcelId": "\(note.parcelId)",
                    "compartment": "\(note.compartmentLabel)",
                ])
        case .alertPage(let note):
            logger.info(
                "alert page",
                metadata: [
                    "kind": "\(note.kind)", "alertId": "\(note.alertId)", "step": "\(note.step)",
                    "accountId": "\(target)", "severity": "\(note.severity)",
                ])
        case .webhookEvent:
            return .permanentFailure("the log channel takes recipients' notifications only")
        }
        return .delivered
    }
}

/// Delivery failures.
public enum NotificationError: Error, CustomStringConvertible {
    case cannotOpen(String, Int32)
    case shortWrite(String)
    case noPayload(String)
    public var description: String {
        switch self {
        case .cannotOpen(let p, let e): "cannot open \(p): errno \(e)"
        case .shortWrite(let p): "could not write all of the notification to \(p)"
        case .noPayload(let id): "outbox message \(id) has no payload"
        }
    }
}
