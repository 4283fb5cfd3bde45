import CubbyAudit
import CubbyCore
import CubbyCrypto
import CubbyStore
import Foundation

/// A signed-in resident's session.
public struct ResidentSession: Sendable {
    public let token: String
    public let hash: Data
    public let recipient: RecipientRecord
    public let principal: Principal
}

/// Residents sign in to their own pages with a one-time code sent to them through the outbox.
///
/// Codes are 8 digits, live 10 minutes, allow 5 tries, and are stored as keyed hashes bound to the
/// recipient. Asking for a code answers the same whether or not the address is known.
public struct ResidentDesk: Sendable {
    public let store: any SQLStore
    public let keys: LockerKeys
    public let clock: ServerClock
    let limiter: AddressLimiter

    public static let codeDigits = 8
    public static let codeLifetime: TimeInterval = 10 * 60
    public static let triesPerCode = 5
    public static let idleTimeout: TimeInterval = 30 * 60
    public static let absoluteTimeout: TimeInterval = 12 * 3600

    /// The outbox channels a sign-in code goes out on.
    let recipientChannels: [String]

    public init(store: any SQLStore, keys: LockerKeys, clock: ServerClock, recipientChannels: [String] = ["file"]) {
        self.recipientChannels = recipientChannels
        self.store = store
        self.keys = keys
        self.clock = clock
        self.limiter = AddressLimiter()
    }

    /// The keyed hash a recipient's email is found by.
    public static func emailHash(_ keys: LockerKeys, _ email: String) -> Data {
        Data(keys.hasher.hash("cubby.recipient-email.v1", email.trimmingCharacters(in: .whitespaces).lowercased()))
    }

    func codeHash(recipient: String, code: String) -> Data {
        Data(keys.hasher.hash("cubby.resident-code.v1", recipient, code))
    }

    /// Sends a code to the recipient with this email, if there is one. Every request counts against the
    /// address's budget, so the form cannot be used to flood anyone's inbox or probe many addresses.
    public func requestCode(email: String, address: String) async throws {
        let (date, at) = (clock.now(), clock.now().millisecondsSince1970)
        if let wait = await limiter.retryAfter(address, now: date) {
            throw StaffError.tooManyAttempts(retryAfterSeconds: wait)
        }
        await limiter.recordFailure(address, now: date)
        let normalized = (try? StaffDesk.email(email)) ?? ""
        guard !normalized.isEmpty else { return }
        let hash = Self.emailHash(keys, normalized)
        let code = SecretGenerator.digits(Self.codeDigits)
        try await store.write { s in
            guard let r = try await s.recipient(emailHash: hash) else { return }
            let expires = at + Milliseconds.of(seconds: Self.codeLifetime)
            try await s.replaceResidentCode(
                id: EntityID.make(), recipient: r.id, hash: codeHash(recipient: r.id, code: code), at: at,
                expiresAt: expires)
            let id = EntityID.make()
            let note = SignInCodeNotification(
                notificationId: id, kind: SignInCodeNotification.kind, recipientId: r.id, code: code,
                expiresAt: AuditCanonicalEncoding.timestamp(Date(millisecondsSince1970: expires)))
            let sealed = try keys.outbox.seal(try JSONEncoder().encode(note), context: "outbox:" + id)
            try await s.enqueueNotification(
                id: id, kind: note.kind, recipient: r.id, parcel: nil, payload: sealed, channels: recipientChannels,
                at: at)
            try await s.appendAudit(
                AuditRecord(
                    occurredAt: date, event: .residentSignInCodeSent,
                    actor: Actor(kind: .recipient, id: r.id, role: "resident"),
                    organizationId: UUID(uuidString: r.organizationId), siteId: UUID(uuidString: r.siteId)))
        }
    }

    enum Check: Sendable {
        case ok(RecipientRecord)
        case wrong(RecipientRecord?)
    }

    /// Signs in with the code; returns the session's cookie value. Every failure is `signInFailed`.
    public func signIn(email: String, code: String, address: String) async throws -> String {
        let date = clock.now()
        let at = date.millisecondsSince1970
        if let wait = await limiter.retryAfter(address, now: date) {
            throw StaffError.tooManyAttempts(retryAfterSeconds: wait)
        }
        let normalized = (try? StaffDesk.email(email)) ?? ""
        let typed = code.filter { !$0.isWhitespace }
        let token = SecretGenerator.credential(prefix: "")
        let result = try await store.write { s -> Check in
            guard !normalized.isEmpty, let r = try await s.recipient(emailHash: Self.emailHash(keys, normalized)) else {
                return .wrong(nil)
            }
            guard let live = try await s.liveResidentCode(recipient: r.id), live.expiresAt > at,
                live.attempts < Self.triesPerCode
            else {
                return .wrong(r)
            }
            let ok =
                typed.utf8.count == Self.codeDigits
                && KeyedHasher.constantTimeEquals(Array(codeHash(recipient: r.id, code: typed)), Array(live.hash))
            try await s.countResidentCodeAttempt(id: live.id, used: ok, at: at)
            guard ok else { return .wrong(r) }
            try await s.insertResidentSession(hash: keys.sessionHash(token), recipient: r.id, at: at)
            try await s.appendAudit(
                AuditRecord(
                    occurredAt: date, event: .residentSignedIn,
                    actor: Actor(kind: .recipient, id: r.id, role: "resident"),
                    organizationId: UUID(uuidString: r.organizationId), siteId: UUID(uuidString: r.siteId)))
            return .ok(r)
        }
        switch result {
        case .ok: return token
        case .wrong(let r):
            await limiter.recordFailure(address, now: date)
            if let r {
                try await store.write { s in
                    try await s.appendAudit(
                        AuditRecord(
                            occurredAt: date, event: .residentSignInFailed, outcome: .failure,
                            actor: Actor(kind: .recipient, id: r.id, role: "resident"),
                            organizationId: UUID(uuidString: r.organizationId), siteId: UUID(uuidString: r.siteId),
                            detail: ["address": address]))
                }
            }
            throw StaffError.signInFailed
        }
    }

    /// The live session for a cookie value, or nil.
    public func session(token: String) async throws -> ResidentSession? {
        guard (16...128).contains(token.utf8.count) else { return nil }
        let hash = keys.sessionHash(token)
        let at = clock.now().millisecondsSince1970
        guard
            let (row, recipient) = try await store.read({
                s -> ((recipient: String, createdAt: Int64, lastSeenAt: Int64), RecipientRecord)? in
                guard let row = try await s.residentSession(hash: hash), let r = try await s.recipient(row.recipient)
                else { return nil }
                return (row, r)
            })
        else { return nil }
        guard at - row.lastSeenAt <= Milliseconds.of(seconds: Self.idleTimeout),
            at - row.createdAt <= Milliseconds.of(seconds: Self.absoluteTimeout),
            recipient.erasedAt == nil, let org = UUID(uuidString: recipient.organizationId),
            let id = UUID(uuidString: recipient.id)
        else {
            try await store.write { s in try await s.endResidentSession(hash: hash, at: at) }
            return nil
        }
        if at - row.lastSeenAt > 15_000 {
            try await store.write { s in try await s.touchResidentSession(hash: hash, at: at) }
        }
        let principal = Principal(
            role: .resident, credentialId: CredentialID(id), organizationId: OrganizationID(org),
            siteIds: Set([recipient.siteId].compactMap(SiteID.init(uuidString:))), subjectId: PersonID(id))
        return ResidentSession(token: token, hash: hash, recipient: recipient, principal: principal)
    }

    public func signOut(_ session: ResidentSession) async throws {
        let at = clock.now().millisecondsSince1970
        try await store.write { s in try await s.endResidentSession(hash: session.hash, at: at) }
    }

    /// The resident's own parcels with where they are.
    public func parcels(_ session: ResidentSession) async throws -> [(ParcelRecord, UnitRecord?, CompartmentRecord?)] {
        try await store.read { s in
            var out: [(ParcelRecord, UnitRecord?, CompartmentRecord?)] = []
            var units: [String: UnitRecord] = [:]
            for p in try await s.parcels(recipient: session.recipient.id) {
                if units[p.unitId] == nil { units[p.unitId] = try await s.unit(p.unitId) }
                let compartment = try await p.compartmentId.asyncMap { try await s.compartment($0) } ?? nil
                out.append((p, units[p.unitId], compartment))
            }
            return out
        }
    }
}
