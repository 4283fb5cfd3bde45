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
    private let sink = Mutex<(any UnitEventSink)?>(nil)
    /// Item sensor per compartment id.
    private let items = Mutex<[String: Bool]>([:])
    private let pending = Mutex<[Task<Void, Never>]>([])

    public init(delay: Duration, logger: Logger) {
        self.delay = delay
        self.logger = logger
    }

    /// Connects the simulator to the flows that receive its reports.
    public func attach(_ sink: any UnitEventSink) {
        self.sink.withLock { $0 = sink }
    }

    /// Sets the item sensor of a compartment (when the server starts with parcels already inside).
    public func setItem(_ present: Bool, compartmentId: String) {
        items.withLock { $0[compartmentId] = present }
    }

    public func openDoor(unitId: String, compartmentId: String, reason: DoorOpenReason) async {
        let task = Task { [delay, logger] in
            guard let sink = self.sink.withLock({ $0 }) else { return }
            await sink.unitReported(UnitDoorEvent(kind: .doorOpened, unitId: unitId, compartmentId: compartmentId, itemPresent: nil, occurredAt: Date()))
            try? await Task.sleep(for: delay)
            // A courier puts a parcel in; a recipient or staff takes it out.
            let present = reason == .dropoff
            self.items.withLock { $0[compartmentId] = present }
            logger.debug("simulated door cycle", metadata: ["unit": "\(unitId)", "compartment": "\(compartmentId)", "reason": "\(reason.rawValue)"])
            await sink.unitReported(UnitDoorEvent(kind: .doorClosed, unitId: unitId, compartmentId: compartmentId, itemPresent: present, occurredAt: Date()))
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
