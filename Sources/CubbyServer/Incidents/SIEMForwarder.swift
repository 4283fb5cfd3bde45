import CubbyCore
import CubbySIEM
import CubbyStore
import Foundation
import Logging
import ServiceLifecycle

/// Sends the audit logs' security events to a SIEM over syslog (`CUBBY_SYSLOG_URL`), as CEF or OCSF.
///
/// It follows each organization's log and the deployment's in leaf order from a stored cursor, so what it sends is
/// exactly what the verifiable log holds, each record naming its leaf index and log origin. A cursor moves only
/// after its records were written to the receiver: delivery is at least once, and a record sent twice (a
/// connection that broke, a process killed between sending and moving the cursor) carries the same ids. One process
/// at a time holds the sink's lease; the others wait for it to run out. A sink configured for the first time
/// starts at the logs' current ends rather than replaying their history; a log opened later is sent from its start.
public struct SIEMForwarder: Service {
    public static let sink = "syslog"
    /// How many leaves one read takes.
    static let batch = 200

    let store: any SQLStore
    let sender: any SyslogSink
    let format: SyslogConfiguration.Format
    /// The HOSTNAME of every syslog message: the host people reach this server at.
    let hostname: String
    /// Rung when the audit log sequenced new events in this process (nil: poll only).
    var wake: OutboxWake?
    let interval: Duration
    let lease: Int64
    let clock: ServerClock
    let logger: Logger
    let token = EntityID.make()
    static let productVersion = "1"

    public init(
        store: any SQLStore, configuration: SyslogConfiguration, hostname: String, interval: Duration = .seconds(1),
        lease: Int64 = 30 * Milliseconds.second, clock: ServerClock = .system, wake: OutboxWake? = nil,
        logger: Logger
    ) {
        self.init(
            store: store, sink: SyslogSender(configuration: configuration, logger: logger),
            format: configuration.format, hostname: hostname, interval: interval, lease: lease, clock: clock,
            logger: logger)
        self.wake = wake
    }

    /// A forwarder to any sink (tests record what it sends).
    public init(
        store: any SQLStore, sink: any SyslogSink, format: SyslogConfiguration.Format, hostname: String,
        interval: Duration = .seconds(1), lease: Int64 = 30 * Milliseconds.second, clock: ServerClock = .system,
        logger: Logger
    ) {
        self.store = store
        self.sender = sink
        self.format = format
        self.hostname = hostname
        self.interval = interval
        self.lease = lease
        self.clock = clock
        self.logger = logger
    }

    public func run() async throws {
        // Newly sequenced events (an incident's) go at once; the interval is the fallback.
        let bell = Doorbell()
        wake?.add(bell)
        defer { wake?.remove(bell) }
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do { _ = try await forward() } catch {
                logger.warning("forwarding security events failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { await bell.wait(upTo: interval) }
        }
        await sender.close()
        do { try await store.write { s in try await s.releaseSIEMLease(sink: Self.sink, token: token) } } catch {
            logger.warning("the SIEM lease could not be given up", metadata: ["error": "\(error)"])
        }
    }

    /// Sends what the logs hold beyond the cursors, while this process holds the lease; returns how many records
    /// were sent.
    @discardableResult
    public func forward() async throws -> Int {
        let now = clock.now().millisecondsSince1970
        guard
            try await store.write({ s in
                try await s.claimSIEMLease(sink: Self.sink, token: token, now: now, until: now + lease)
            })
        else { return 0 }
        let (logs, cursors, startedAt) = try await store.read { s in
            (
                try await s.auditLogs(), try await s.siemCursors(sink: Self.sink),
                try await s.siemSinkStartedAt(sink: Self.sink)
            )
        }
        var sent = 0
        for state in logs where state.log != .frozen {
            guard let origin = state.origin else { continue }
            var next = cursors[state.log.storageKey] ?? (state.createdAt > (startedAt ?? 0) ? 0 : state.size)
            if cursors[state.log.storageKey] == nil {
                guard try await advance(state.log, to: next) else { return sent }
            }
            while true {
                let from = next
                let rows = try await store.read { s in
                    try await s.sequencedEvents(state.log, from: from, limit: Self.batch)
                }
                guard let last = rows.last?.0 else { break }
                let messages = try await self.messages(rows, origin: origin)
                try await sender.send(messages)
                sent += messages.count
                next = last + 1
                guard try await advance(state.log, to: next) else { return sent }
                if rows.count < Self.batch { break }
            }
        }
        return sent
    }

    private func advance(_ log: AuditLogID, to next: Int64) async throws -> Bool {
        let at = clock.now().millisecondsSince1970
        let moved = try await store.write { s in
            try await s.advanceSIEMCursor(sink: Self.sink, log: log, next: next, token: token, at: at)
        }
        if !moved { logger.info("the SIEM lease went to another process; this one stops forwarding for now") }
        return moved
    }

    /// The syslog messages of the forwarded events among `rows`, with the names of the places they name.
    func messages(_ rows: [(Int64, StoredAuditEvent)], origin: String) async throws -> [SyslogMessage] {
        var events: [SecurityEvent] = []
        for (index, stored) in rows {
            guard let record = stored.record else {
                logger.error("an audit event cannot be read back; not forwarded", metadata: ["leaf": "\(index)"])
                continue
            }
            guard let (kind, severity) = SecurityEventMapping.classify(record) else { continue }
            events.append(
                SecurityEvent(record: record, leafIndex: index, logOrigin: origin, kind: kind, severity: severity))
        }
        guard !events.isEmpty else { return [] }
        let named = events
        let names = try await store.read { s in
            var sites: [String: String] = [:]
            var units: [String: String] = [:]
            var compartments: [String: String] = [:]
            for e in named {
                if let id = e.record.siteId?.idString, sites[id] == nil { sites[id] = try await s.site(id)?.name }
                if let id = e.record.unitId?.idString, units[id] == nil { units[id] = try await s.unit(id)?.name }
                if let id = e.record.compartmentId?.idString, compartments[id] == nil {
                    compartments[id] = try await s.compartment(id)?.label
                }
            }
            return (sites, units, compartments)
        }
        let procID = String(ProcessInfo.processInfo.processIdentifier)
        return events.map { e in
            var e = e
            e.siteName = e.record.siteId.flatMap { names.0[$0.idString] }
            e.unitName = e.record.unitId.flatMap { names.1[$0.idString] }
            e.compartmentLabel = e.record.compartmentId.flatMap { names.2[$0.idString] }
            let text =
                switch format {
                case .cef: CEFFormat.line(e, productVersion: Self.productVersion)
                case .ocsf: OCSFFormat.json(e, productVersion: Self.productVersion)
                }
            return SyslogMessage(
                severity: e.severity.syslog, timestamp: e.record.occurredAt, hostname: hostname, procID: procID,
                msgID: e.record.type, message: text)
        }
    }
}
