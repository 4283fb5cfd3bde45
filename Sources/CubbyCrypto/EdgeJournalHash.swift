import Crypto
import CubbyCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The hash chain of an edge journal: each event's hash covers the previous hash and the event.
public enum EdgeJournalHash {
    public static func hash(previous: String, event: EdgeEvent) -> String {
        var h = SHA256()
        h.update(data: Array(previous.utf8))
        h.update(data: event.chainedBytes)
        return Hex.encode(h.finalize())
    }
}
