#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The messages between the server and a locker unit's edge controller, one JSON object per WebSocket
/// text message. Version 1.
public enum EdgeLink {
    /// Protocol version carried in `hello`.
    public static let version = 1
    /// The WebSocket's path on the server.
    public static let path = "/api/v1/edge/link"
    /// The enrollment endpoint's path on the server.
    public static let enrollPath = "/api/v1/edge/enroll"
    /// Largest message either side accepts (an event with its photo fits easily).
    public static let maxMessageBytes = 512 * 1024
}

/// A compartment as the edge needs it: where its lock sits.
public struct EdgeCompartment: Codable, Sendable, Equatable {
    public var id: String
    public var label: String
    public var size: String
    /// Board address on the bus, 0…3.
    public var board: UInt8
    /// Channel on the board, 1…16.
    public var channel: UInt8
    /// Taken out of service (the edge does not open it for pickups).
    public var outOfService: Bool

    public init(id: String, label: String, size: String, board: UInt8, channel: UInt8, outOfService: Bool = false) {
        self.id = id
        self.label = label
        self.size = size
        self.board = board
        self.channel = channel
        self.outOfService = outOfService
    }

    /// The standard wiring: compartments in label order, 16 per board, channels 1…16.
    public static func wiring(index: Int) -> (board: UInt8, channel: UInt8) {
        (UInt8(index / 16), UInt8(index % 16 + 1))
    }
}

/// A live pickup credential as the edge keeps it: the PIN only as a keyed hash.
public struct EdgePickupCode: Codable, Sendable, Equatable {
    public var parcelId: String
    public var compartmentId: String
    /// HMAC-SHA-256 of the PIN under the unit's PIN key (base64).
    public var pinHash: String
    /// The nonce of the parcel's QR token, which names this credential.
    public var qrNonce: String
    /// Unix milliseconds.
    public var expiresAt: Int64

    public init(parcelId: String, compartmentId: String, pinHash: String, qrNonce: String, expiresAt: Int64) {
        self.parcelId = parcelId
        self.compartmentId = compartmentId
        self.pinHash = pinHash
        self.qrNonce = qrNonce
        self.expiresAt = expiresAt
    }
}

/// What the server tells an edge about its unit: sent on every connection and after every change.
public struct EdgeUnitState: Codable, Sendable, Equatable {
    public var unitId: String
    public var unitName: String
    public var compartments: [EdgeCompartment]
    public var pinPolicy: PinEntryPolicy
    /// The unit's key for PIN hashes (base64, 32 bytes): derived per unit, so one unit's key opens nothing elsewhere.
    public var pinKey: String
    /// The Ed25519 key that verifies QR tokens (base64 raw).
    public var qrPublicKey: String
    /// Every live pickup credential at the unit.
    public var codes: [EdgePickupCode]
    /// Whether the server holds the unit in lockdown.
    public var lockedDown: Bool
    /// QR keys replaced by `qrPublicKey` whose tokens are still accepted until their overlap ends (absent from
    /// servers of earlier versions).
    public var qrEarlierKeys: [EdgeQRKey]?

    public init(
        unitId: String, unitName: String, compartments: [EdgeCompartment], pinPolicy: PinEntryPolicy, pinKey: String,
        qrPublicKey: String, codes: [EdgePickupCode], lockedDown: Bool, qrEarlierKeys: [EdgeQRKey]? = nil
    ) {
        self.qrEarlierKeys = qrEarlierKeys
        self.unitId = unitId
        self.unitName = unitName
        self.compartments = compartments
        self.pinPolicy = pinPolicy
        self.pinKey = pinKey
        self.qrPublicKey = qrPublicKey
        self.codes = codes
        self.lockedDown = lockedDown
    }
}

/// A QR key replaced by a rotation: its tokens stay valid at the unit until `until`.
public struct EdgeQRKey: Codable, Sendable, Equatable {
    /// The Ed25519 public key (base64 raw).
    public var publicKey: String
    /// Unix milliseconds after which its tokens are refused.
    public var until: Int64

    public init(publicKey: String, until: Int64) {
        self.publicKey = publicKey
        self.until = until
    }
}

/// One event from the edge's journal.
public struct EdgeEvent: Codable, Sendable, Equatable {
    /// Gap-free per device, from 1.
    public var seq: Int64
    /// Unix milliseconds at the unit.
    public var occurredAt: Int64
    public var kind: EdgeEventKind
    public var compartmentId: String?
    public var parcelId: String?
    /// Small string fields that depend on the kind.
    public var detail: [String: String]
    /// SHA-256 (hex) of a still taken with the event, if any.
    public var photoSHA256: String?
    /// SHA-256 (hex) of the previous event's hash and this event's canonical bytes: the journal's hash chain.
    public var hash: String
    /// The previous event's `hash` (64 zeros for the first).
    public var previousHash: String

    public init(
        seq: Int64, occurredAt: Int64, kind: EdgeEventKind, compartmentId: String? = nil, parcelId: String? = nil,
        detail: [String: String] = [:], photoSHA256: String? = nil, hash: String = "", previousHash: String = ""
    ) {
        self.seq = seq
        self.occurredAt = occurredAt
        self.kind = kind
        self.compartmentId = compartmentId
        self.parcelId = parcelId
        self.detail = detail
        self.photoSHA256 = photoSHA256
        self.hash = hash
        self.previousHash = previousHash
    }

    /// The bytes the hash chain covers: every field but the hashes, in a fixed order.
    public var chainedBytes: [UInt8] {
        var parts: [String] = [
            String(seq), String(occurredAt), kind.rawValue, compartmentId ?? "", parcelId ?? "", photoSHA256 ?? "",
        ]
        for key in detail.keys.sorted() { parts += [key, detail[key]!] }
        var out: [UInt8] = []
        for p in parts {
            let bytes = Array(p.utf8)
            let n = UInt32(bytes.count)
            out += [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)]
            out += bytes
        }
        return out
    }

    /// The hash of the journal before the first event.
    public static let genesisHash = String(repeating: "0", count: 64)
}

/// What happened at the unit.
public enum EdgeEventKind: String, Codable, Sendable, CaseIterable {
    case doorOpened = "door_opened"
    case doorClosed = "door_closed"
    /// A code opened a compartment at the unit (online or offline).
    case pickup
    /// A code was refused (detail: method).
    case codeRejected = "code_rejected"
    /// PIN entry refused while locked out (detail: reason).
    case codeLockedOut = "code_locked_out"
    case tamper
    /// An open was refused because the unit is locked down.
    case openRefused = "open_refused"
    case lockdownReleased = "lockdown_released"
    /// A lock did not answer: the compartment is out of service.
    case compartmentFault = "compartment_fault"
    case serviceDoor = "service_door"
    case mainsPower = "mains_power"
    case network
    /// A command from the server was carried out (detail: commandId, outcome).
    case commandDone = "command_done"
    /// The controller started.
    case started
}

/// A command from the server.
public struct EdgeCommand: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case open, lockdown, release
        /// Staff lifted a suspension or lockout of PIN entry: the unit's own limiter lifts it too.
        case resumePinEntry = "resume_pin_entry"
    }
    public var id: String
    public var kind: Kind
    public var compartmentId: String?
    /// Why a door opens: dropoff, pickup, removal.
    public var reason: String?
    /// Unix milliseconds after which the command must not be carried out (a late door opening is a hazard).
    public var expiresAt: Int64

    public init(id: String, kind: Kind, compartmentId: String? = nil, reason: String? = nil, expiresAt: Int64) {
        self.id = id
        self.kind = kind
        self.compartmentId = compartmentId
        self.reason = reason
        self.expiresAt = expiresAt
    }
}

/// A message from the edge to the server.
public enum EdgeUpMessage: Codable, Sendable, Equatable {
    /// First message on a connection.
    case hello(version: Int, lastSeq: Int64)
    /// A journaled event; `photo` is the still's JPEG (base64) when the event has one.
    case event(EdgeEvent, photo: String?)
    /// The edge carried out (or refused) a command.
    case commandAck(id: String, outcome: String)
    /// A courier at the kiosk: check its credential (`requestId` pairs the answer).
    case courierCheck(requestId: String, token: String)
    /// A courier at the kiosk drops off a parcel.
    case dropoff(requestId: String, token: String, trackingNumber: String, recipientId: String, size: String)
}

/// A message from the server to the edge.
public enum EdgeDownMessage: Codable, Sendable, Equatable {
    /// The unit's state: on connect and after changes.
    case state(EdgeUnitState)
    /// Events up to `seq` are applied (and stored) on the server.
    case ack(seq: Int64)
    case command(EdgeCommand)
    /// The answer to `courierCheck`: the carrier's name, or nil when refused.
    case courier(requestId: String, displayName: String?)
    /// The answer to `dropoff`: a compartment or an error code (`unit_full`, `invalid`, …) with a message.
    case dropoffResult(requestId: String, compartmentId: String?, label: String?, error: String?, message: String?)
}
