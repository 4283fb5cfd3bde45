import CubbyStore
import Foundation
import Logging

/// Where notifications go. Email, SMS and webhooks arrive later behind this same interface.
public protocol NotificationChannel: Sendable {
    func deliver(_ note: ParcelReadyNotification) async throws
    func deliver(_ note: SignInCodeNotification) async throws
}

/// Appends each notification as one JSON line to a file and fsyncs it (`CUBBY_NOTIFY_FILE`).
public struct FileNotificationChannel: NotificationChannel {
    public let path: String

    public init(path: String) { self.path = path }

    public func deliver(_ note: ParcelReadyNotification) async throws { try append(note) }
    public func deliver(_ note: SignInCodeNotification) async throws { try append(note) }

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

/// Logs each notification with the PIN masked and no QR token: for servers with no channel set up.
public struct LogNotificationChannel: NotificationChannel {
    let logger: Logger
    public init(logger: Logger) { self.logger = logger }

    public func deliver(_ note: ParcelReadyNotification) async throws {
        logger.info(
            "notification",
            metadata: [
                "kind": "\(note.kind)", "recipientId": "\(note.recipientId)", "parcelId": "\(note.parcelId)",
                "compartment": "\(note.compartmentLabel)",
                "pin": "\(String(repeating: "•", count: max(0, note.pin.count - 2)) + note.pin.suffix(2))",
                "expiresAt": "\(note.expiresAt)",
            ])
    }

    public func deliver(_ note: SignInCodeNotification) async throws {
        logger.info(
            "notification",
            metadata: [
                "kind": "\(note.kind)", "recipientId": "\(note.recipientId)",
                "code": "\(String(repeating: "•", count: max(0, note.code.count - 2)) + note.code.suffix(2))",
                "expiresAt": "\(note.expiresAt)",
            ])
    }
}

/// Delivery failures.
public enum NotificationError: Error, CustomStringConvertible {
    case cannotOpen(String, Int32)
    case shortWrite(String)
    public var description: String {
        switch self {
        case .cannotOpen(let p, let e): "cannot open \(p): errno \(e)"
        case .shortWrite(let p): "could not write all of the notification to \(p)"
        }
    }
}
