import Foundation

/// Counts failed attempts per network address (staff sign-ins, unit enrollments): a bucket of `capacity` that
/// refills one every `refill`.
actor AddressLimiter {
    let capacity: Double
    let refill: TimeInterval
    private var buckets: [String: (tokens: Double, at: Date)] = [:]

    init(capacity: Int = 30, refill: TimeInterval = 20) {
        self.capacity = Double(capacity)
        self.refill = refill
    }

    private func level(_ address: String, now: Date) -> Double {
        guard let b = buckets[address] else { return capacity }
        return min(capacity, b.tokens + now.timeIntervalSince(b.at) / refill)
    }

    /// Seconds to wait before the address may try again, or nil when it may try now.
    func retryAfter(_ address: String, now: Date) -> Int? {
        let tokens = level(address, now: now)
        return tokens >= 1 ? nil : Int(((1 - tokens) * refill).rounded(.up))
    }

    func recordFailure(_ address: String, now: Date) {
        buckets[address] = (max(0, level(address, now: now) - 1), now)
        if buckets.count > 100_000 { buckets = buckets.filter { $0.value.tokens < capacity - 1 } }
    }
}
