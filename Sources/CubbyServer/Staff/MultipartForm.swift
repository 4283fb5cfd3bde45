import Foundation

/// `multipart/form-data` (RFC 7578 over RFC 2046's multipart syntax) for the portal's forms that upload a file: each
/// part's `Content-Disposition: form-data; name="…"` (and `filename="…"` for a file), its content up to the next
/// delimiter. Anything else in the body — no closing delimiter, a part without a name, too many parts — is a bad form.
enum MultipartForm {
    static let maxParts = 64

    /// The boundary of a `multipart/form-data` content type, or nil for any other type.
    static func boundary(_ contentType: String) -> String? {
        let parts = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.first?.lowercased() == "multipart/form-data" else { return nil }
        for p in parts.dropFirst() {
            let kv = p.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, kv[0].lowercased() == "boundary" else { continue }
            var value = String(kv[1])
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 {
                value = String(value.dropFirst().dropLast())
            }
            // RFC 2046 §5.1.1: 1–70 characters, no trailing space.
            guard (1...70).contains(value.utf8.count), !value.hasSuffix(" "),
                value.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7F })
            else { return nil }
            return value
        }
        return nil
    }

    static func parse(_ body: [UInt8], boundary: String) throws -> PortalForm {
        let delimiter = Array("--\(boundary)".utf8)
        let crlf: [UInt8] = [13, 10]
        guard var at = find(delimiter, in: body, from: 0) else { throw PortalRefusal.badForm }
        var form = PortalForm()
        var count = 0
        while true {
            at += delimiter.count
            // `--` after a delimiter closes the body.
            if body.count >= at + 2, body[at] == 45, body[at + 1] == 45 { return form }
            guard body.count >= at + 2, Array(body[at..<(at + 2)]) == crlf else { throw PortalRefusal.badForm }
            at += 2
            count += 1
            guard count <= maxParts, let headerEnd = find(crlf + crlf, in: body, from: at) else {
                throw PortalRefusal.badForm
            }
            let headers = String(decoding: body[at..<headerEnd], as: UTF8.self)
            let contentStart = headerEnd + 4
            guard let next = find(crlf + delimiter, in: body, from: contentStart) else { throw PortalRefusal.badForm }
            let content = Array(body[contentStart..<next])
            let (name, filename) = try disposition(headers)
            if let filename {
                form.files[name] = (filename, content)
            } else {
                guard let text = String(bytes: content, encoding: .utf8) else { throw PortalRefusal.badForm }
                form.values[name, default: []].append(text)
            }
            at = next + 2
        }
    }

    /// The `name` and `filename` of a part's `Content-Disposition: form-data` header.
    static func disposition(_ headers: String) throws -> (name: String, filename: String?) {
        for line in headers.components(separatedBy: "\r\n") {
            let kv = line.split(separator: ":", maxSplits: 1)
            guard kv.count == 2, kv[0].trimmingCharacters(in: .whitespaces).lowercased() == "content-disposition" else {
                continue
            }
            let params = kv[1].split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard params.first?.lowercased() == "form-data" else { throw PortalRefusal.badForm }
            var name: String?
            var filename: String?
            for p in params.dropFirst() {
                let pair = p.split(separator: "=", maxSplits: 1)
                guard pair.count == 2 else { continue }
                var value = String(pair[1])
                if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 {
                    value = String(value.dropFirst().dropLast()).replacingOccurrences(of: "\\\"", with: "\"")
                }
                switch pair[0].lowercased() {
                case "name": name = value
                case "filename": filename = value
                default: break
                }
            }
            guard let name, !name.isEmpty else { throw PortalRefusal.badForm }
            return (name, filename)
        }
        throw PortalRefusal.badForm
    }

    /// The first index at or after `from` where `needle` starts in `haystack`.
    static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, from <= haystack.count - needle.count else { return nil }
        let first = needle[0]
        var i = from
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == first && haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}
