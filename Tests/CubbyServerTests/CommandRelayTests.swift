import CubbyCore
import CubbyCrypto
import CubbyDemo
import CubbyDevices
import CubbyEdge
import CubbyServer
import CubbyStore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// Two server processes on one PostgreSQL database: a door command stored by the process that does not hold the unit's
/// link reaches the unit through the other, announced at commit (commands are not polled).
@Suite("door commands cross server processes at commit")
struct CommandRelayTests {
    @Test(
        "a command stored by a second process opens the door at a unit linked to the first",
        .enabled(if: Backend.available.contains(.postgres)))
    func commandFromAnotherProcess() async throws {
        try await TestWorld.with(.postgres, simulate: false, start: Date()) { world in
            // The second process: its own parts (pool, desks, hub) on the same database and key file.
            let second = try await buildParts(
                settings: world.settings, clock: world.clock.serverClock,
                passwordHasher: .forTesting(iterations: 1000), logger: TestWorld.logger)
            let store = try #require(world.parts.store as? PostgresStore)
            let listening = Mutex(0)
            let relay = UnitCommandRelay(store: store, edges: world.parts.edges, logger: TestWorld.logger) {
                listening.withLock { $0 += 1 }
            }
            let group = ServiceGroup(configuration: .init(services: [relay], logger: TestWorld.logger))
            let relayTask = Task { try await group.run() }
            let listener = try await EdgeListener.start(world)
            let token = try await EdgeLinkTests.enroll(world, listener)
            let unit = try await TestUnit.start(world, listener: listener, token: token)
            try await eventually("the link is up") { unit.link.isOnline }
            try await eventually("the relay listens") { listening.withLock { $0 } > 0 }
            try await eventually("the unit has its state") { await unit.controller.condition().unitId != nil }
            #expect(!second.hub.isConnected(world.unit))

            let compartment = try await second.edges.state(unitId: world.unit).compartments[0]
            unit.bus.clearRecords()
            world.catchUpWithWallClock()
            try await second.edges.openDoorFromConsole(
                unitId: world.unit, compartmentId: compartment.id, reason: .removal)
            try await eventually("the door opens") { !unit.bus.unlocks.isEmpty }
            try await eventually("the unit acknowledged the command") {
                try await world.parts.edges.pendingCommands(unitId: world.unit).isEmpty
            }

            await unit.stop()
            await listener.stop()
            await group.triggerGracefulShutdown()
            _ = try? await relayTask.value
            await second.store.close()
        }
    }
}
