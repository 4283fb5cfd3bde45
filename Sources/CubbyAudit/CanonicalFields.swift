import Foundation

/// Reads a few top-level string members of an event's canonical bytes without decoding the whole event: what
/// the verifier needs of every leaf (which organization, which type), at a fraction of a JSON decoder's cost.
public enum CanonicalFields {
    /// The top-level members named in `wanted` whose values are strings without escapes (ids and dotted types
    /// always are); nil when the bytes are not a JSON object in the canonical form, or a wanted value needs
    /// unescaping (the caller then decodes properly).
    public static func strings(_ bytes: Data, _ wanted: Set<String>) -> [String: String]? {
        bytes.withUnsafeBytes { raw -> [String: String]? in
            let b = raw.bindMemory(to: UInt8.self)
            var i = 0
            let n = b.count
            var found: [String: String] = [:]
            /// The end of the string starting at the quote `at` (the index after its closing quote), and whether it
            /// held an escape.
            func skipString(_ at: Int) -> (end: Int, escaped: Bool)? {
                var j = at + 1
                var escaped = false
                while j < n {
                    switch b[j] {
                    case UInt8(ascii: "\""): return (j + 1, escaped)
                    case UInt8(ascii: "\\"):
                        escaped = true
                        j += 2
                    default: j += 1
                    }
                }
                return nil
            }
            /// The end of the value starting at `at`.
            func skipValue(_ at: Int) -> Int? {
                guard at < n else { return nil }
                switch b[at] {
                case UInt8(ascii: "\""): return skipString(at)?.end
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    var depth = 0
                    var j = at
                    while j < n {
                        switch b[j] {
                        case UInt8(ascii: "\""):
                            guard let s = skipString(j) else { return nil }
                            j = s.end
                            continue
                        case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                        case UInt8(ascii: "}"), UInt8(ascii: "]"):
                            depth -= 1
                            if depth == 0 { return j + 1 }
                        default: break
                        }
                        j += 1
                    }
                    return nil
                default:
                    var j = at
                    while j < n, b[j] != UInt8(ascii: ","), b[j] != UInt8(ascii: "}") { j += 1 }
                    return j
                }
            }
            guard n >= 2, b[0] == UInt8(ascii: "{") else { return nil }
            i = 1
            if b[i] == UInt8(ascii: "}") { return found }
            while i < n {
                guard b[i] == UInt8(ascii: "\""), let key = skipString(i), !key.escaped, key.end < n,
                    b[key.end] == UInt8(ascii: ":")
                else { return nil }
                let name = String(decoding: UnsafeBufferPointer(rebasing: b[(i + 1)..<(key.end - 1)]), as: UTF8.self)
                let valueStart = key.end + 1
                guard let valueEnd = skipValue(valueStart), valueEnd < n else { return nil }
                if wanted.contains(name) {
                    guard b[valueStart] == UInt8(ascii: "\""), let s = skipString(valueStart), !s.escaped else {
                        return nil
                    }
                    found[name] = String(
                        decoding: UnsafeBufferPointer(rebasing: b[(valueStart + 1)..<(s.end - 1)]), as: UTF8.self)
                }
                switch b[valueEnd] {
                case UInt8(ascii: ","): i = valueEnd + 1
                case UInt8(ascii: "}"): return valueEnd == n - 1 ? found : nil
                default: return nil
                }
            }
            return nil
        }
    }
}
