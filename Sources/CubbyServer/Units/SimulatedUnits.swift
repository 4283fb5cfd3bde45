import Foundation
import Logging
import Synchronization

/// Locker units simulated in-process: a door opens when told to, someone puts a parcel in or takes it
/// out, and the door closes a moment later, reported with the item sensor's reading.
///
/// It stands in for the edge controller behind the same `UnitLink` interface.
public final class SimulatedUnits: UnitLink {
    private let delay: Duration
    private let logger: Logger
    /// Where the simulated doors report.
    private let sink: any UnitEventSink
    /// Item sensor per compartment id.
    private let items = Mutex<[String: Bool]>([:])
    private let pending = Mutex<[Task<Void, Never>]>([])

    public init(delay: Duration, reportingTo sink: any UnitEventSink, logger: Logger) {
        self.delay = delay
        self.sink = sink
        self.logger = logger
    }

    /// Sets the item sensor of a compartment (when the server starts with parcels already inside).
    public func setItem(_ present: Bool, compartmentId: String) {
        items.withLock { $0[compartmentId] = present }
    }

    public func deliver(_ command: DoorCommand) async {
        let (unitId, compartmentId, reason) = (command.unitId, command.compartmentId, command.reason)
        let task = Task { [delay, logger, sink] in
            await sink.unitReported(
                UnitDoorEvent(
                    kind: .doorOpened, unitId: unitId, compartmentId: compartmentId, itemPresent: nil,
                    occurredAt: Date()))
            try? await Task.sleep(for: delay)
            // A courier puts a parcel in; a recipient or staff takes it out.
            let present = reason == .dropoff
            self.items.withLock { $0[compartmentId] = present }
            logger.debug(
                "simulated door cycle",
                metadata: ["unit": "\(unitId)", "compartment": "\(compartmentId)", "reason": "\(reason.rawValue)"])
            await sink.unitReported(
                UnitDoorEvent(
                    kind: .doorClosed, unitId: unitId, compartmentId: compartmentId, itemPresent: present,
                    occurredAt: Date()))
        }
        pending.withLock { tasks in
            tasks.removeAll { $0.isCancelled }
            tasks.append(task)
        }
    }

    /// Waits until every door cycle started so far has finished.
    public func settle() async {
        let tasks = pending.withLock { t -> [Task<Void, Never>] in
            let copy = t
            t.removeAll()
            return copy
        }
        for t in tasks { await t.value }
    }
}
