import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Reads a request body as one JSON object of a known shape: the content type, the size, the syntax,
/// unknown or missing fields and wrong types each get a clear 4xx.
enum JSONBody {
    static func decode<T: Decodable>(
        _ type: T.Type, from request: Request, context: CubbyRequestContext, allowed: Set<String>
    ) async throws -> T {
        if let contentType = request.headers[.contentType] {
            let media =
                contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
                ?? ""
            guard media == "application/json" || media.hasSuffix("+json") else { throw APIError.unsupportedMediaType }
        }
        var request = request
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: context.maxUploadSize) } catch is NIOTooManyBytesError {
            throw APIError.payloadTooLarge(context.maxUploadSize)
        }
        let data = Data(buffer.readableBytesView)
        guard !data.isEmpty else { throw APIError.invalidJSON("the request body is empty; send a JSON object") }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data, options: []) } catch {
            throw APIError.invalidJSON("the request body is not valid JSON")
        }
        guard let dict = object as? [String: Any] else {
            throw APIError.invalidJSON("the request body must be a JSON object")
        }
        let unknown = Set(dict.keys).subtracting(allowed)
        if !unknown.isEmpty {
            throw APIError.invalidRequest("unknown field(s): \(unknown.sorted().joined(separator: ", "))")
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let DecodingError.keyNotFound(key, _) {
            throw APIError.invalidRequest("missing field: \(key.stringValue)")
        } catch let DecodingError.typeMismatch(expected, ctx) {
            throw APIError.invalidRequest("field \(path(ctx)) must be \(describe(expected))")
        } catch let DecodingError.valueNotFound(expected, ctx) {
            throw APIError.invalidRequest("field \(path(ctx)) must be \(describe(expected)), not null")
        } catch let DecodingError.dataCorrupted(ctx) {
            throw APIError.invalidRequest("field \(path(ctx)) is invalid: \(ctx.debugDescription)")
        }
    }

    static func path(_ ctx: DecodingError.Context) -> String {
        ctx.codingPath.map(\.stringValue).joined(separator: ".")
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Int.Type, is Int64.Type: "an integer"
        default: "a value of the right type"
        }
    }
}
