import Foundation

/// Applies PATCH operations (RFC 7644 §3.5.2) to a resource document.
///
/// The document holds the attributes the schema declares, under their declared names. Operations on attributes the
/// schema does not declare (another schema's extension, `title`, …) are ignored, like unknown attributes in a
/// POST or PUT; so are writes to read-only attributes. Forms identity providers send are accepted: operation names
/// in any case (`Replace`), a `path`-less operation whose value object has attribute paths as keys
/// (`{"name.givenName": "Ann"}`), booleans as the strings `"True"`/`"False"` (checked where the value is read), and
/// a value filter that matches nothing (`emails[type eq "work"].value`) adding a value with the filter's equalities.
public struct SCIMPatchEngine: Sendable {
    /// The attributes operations may reach.
    public var attributes: [SCIMAttribute]
    /// The URN of the resource's core schema: a path may be qualified with it.
    public var schema: String

    public init(attributes: [SCIMAttribute], schema: String) {
        self.attributes = attributes
        self.schema = schema
    }

    public enum Operation: String, Sendable { case add, replace, remove }

    /// Reads a PatchOp message and applies its operations in order; any error leaves the caller's document as it was.
    public func apply(message: SCIMJSON, to document: [String: SCIMJSON]) throws(SCIMError) -> [String: SCIMJSON] {
        guard let body = message.objectValue else { throw .invalidSyntax("the body must be a PatchOp object") }
        let schemas = body.attribute("schemas")?.arrayValue?.compactMap(\.stringValue) ?? []
        guard schemas.contains(where: { $0.lowercased() == SCIMSchemas.patchOp.lowercased() }) else {
            throw .invalidSyntax("schemas must list \(SCIMSchemas.patchOp)")
        }
        guard let operations = body.attribute("Operations")?.arrayValue, !operations.isEmpty else {
            throw .invalidSyntax("Operations must be a non-empty array")
        }
        guard operations.count <= 100 else { throw .invalidSyntax("at most 100 operations per request") }
        var doc = document
        for raw in operations {
            guard let op = raw.objectValue else { throw .invalidSyntax("each operation must be an object") }
            guard let name = op.attribute("op")?.stringValue, let kind = Operation(rawValue: name.lowercased()) else {
                throw .invalidSyntax("op must be add, replace or remove")
            }
            let value = op.attribute("value")
            switch op.attribute("path") {
            case nil, .null?:
                guard kind != .remove else { throw .noTarget("remove needs a path") }
                guard let object = value?.objectValue else {
                    throw .invalidSyntax("an operation without a path needs an object as its value")
                }
                try applyObject(kind, object, to: &doc)
            case .string(let path)?:
                guard kind == .remove || value != nil else { throw .invalidSyntax("\(kind.rawValue) needs a value") }
                try apply(kind, path: path, value: value ?? .null, to: &doc)
            default:
                throw .invalidPath("path must be a string")
            }
        }
        return doc
    }

    /// A path-less add or replace: each key of the object is an attribute path (or the schema's URN, whose
    /// object holds more of them).
    func applyObject(_ kind: Operation, _ object: [String: SCIMJSON], to doc: inout [String: SCIMJSON])
        throws(SCIMError)
    {
        for key in object.keys.sorted() {
            let value = object[key]!
            if key.lowercased() == schema.lowercased() {
                guard let inner = value.objectValue else { throw .invalidSyntax("\(key) must be an object") }
                try applyObject(kind, inner, to: &doc)
            } else if ["schemas", "id", "meta"].contains(key.lowercased()) {
                continue
            } else {
                try apply(kind, path: key, value: value, to: &doc)
            }
        }
    }

    /// One operation with a path.
    func apply(_ kind: Operation, path text: String, value: SCIMJSON, to doc: inout [String: SCIMJSON])
        throws(SCIMError)
    {
        if text.lowercased() == schema.lowercased() {
            guard kind != .remove else { throw .noTarget("the whole resource cannot be removed by PATCH") }
            guard let object = value.objectValue else { throw .invalidSyntax("\(text) must be an object") }
            return try applyObject(kind, object, to: &doc)
        }
        let path = try FilterParser.patchPath(text)
        if let urn = path.attribute.schema, urn.lowercased() != schema.lowercased() { return }
        guard let attribute = attributes.first(where: { $0.name.lowercased() == path.attribute.name.lowercased() })
        else { return }
        if attribute.mutability == .readOnly { return }
        let key = attribute.name
        let sub = path.attribute.subAttribute ?? path.subAttribute
        if let sub {
            guard attribute.type == .complex, let subAttribute = attribute.sub(sub) else {
                if attribute.type == .complex { return }
                throw .invalidPath("\(key) has no sub-attributes")
            }
            if subAttribute.mutability == .readOnly { return }
        }
        let canonicalSub = sub.flatMap { attribute.sub($0)?.name }

        guard attribute.multiValued else {
            guard path.filter == nil else { throw .invalidPath("\(key) is not multi-valued") }
            switch (kind, canonicalSub) {
            case (.remove, nil): doc[key] = nil
            case (.remove, let s?):
                var object = doc[key]?.objectValue ?? [:]
                object[s] = nil
                doc[key] = object.isEmpty ? nil : .object(object)
            case (_, let s?):
                var object = doc[key]?.objectValue ?? [:]
                object[s] = value
                doc[key] = .object(object)
            case (.add, nil) where attribute.type == .complex:
                guard let incoming = value.objectValue else { throw .invalidValue("\(key) must be an object") }
                doc[key] = .object((doc[key]?.objectValue ?? [:]).merging(canonical(incoming, attribute)) { $1 })
            case (_, nil):
                if attribute.type == .complex {
                    doc[key] = .object(canonical(try object(value, key), attribute))
                } else {
                    doc[key] = value
                }
            }
            return
        }

        var elements = doc[key]?.arrayValue ?? []
        if let filter = path.filter {
            var matching: [Int] = []
            for i in elements.indices {
                if let o = elements[i].objectValue, try filter.matches(o) { matching.append(i) }
            }
            switch kind {
            case .remove:
                if let s = canonicalSub {
                    for i in matching {
                        var o = elements[i].objectValue ?? [:]
                        o[s] = nil
                        elements[i] = .object(o)
                    }
                } else {
                    for i in matching.reversed() { elements.remove(at: i) }
                }
            case .add, .replace:
                if matching.isEmpty {
                    var fresh = Self.equalities(filter)
                    if let s = canonicalSub {
                        fresh[s] = value
                    } else {
                        fresh.merge(canonical(try object(value, key), attribute)) { $1 }
                    }
                    elements.append(.object(canonical(fresh, attribute)))
                }
                for i in matching {
                    var o = elements[i].objectValue ?? [:]
                    if let s = canonicalSub {
                        o[s] = value
                    } else if kind == .add {
                        o.merge(canonical(try object(value, key), attribute)) { $1 }
                    } else {
                        o = canonical(try object(value, key), attribute)
                    }
                    elements[i] = .object(o)
                }
            }
        } else if let s = canonicalSub {
            // `phoneNumbers.value` without a filter: every value's sub-attribute (a new value when there is none).
            if elements.isEmpty, kind != .remove {
                elements = [.object([s: value])]
            } else {
                for i in elements.indices {
                    var o = elements[i].objectValue ?? [:]
                    o[s] = kind == .remove ? nil : value
                    elements[i] = .object(o)
                }
            }
        } else {
            switch kind {
            case .remove: elements = []
            case .add: elements += try values(value, attribute)
            case .replace: elements = try values(value, attribute)
            }
        }
        elements.removeAll { $0.objectValue?.isEmpty ?? false }
        doc[key] = elements.isEmpty ? nil : .array(elements)
    }

    private func object(_ value: SCIMJSON, _ key: String) throws(SCIMError) -> [String: SCIMJSON] {
        guard let o = value.objectValue else { throw .invalidValue("a value of \(key) must be an object") }
        return o
    }

    /// The values of a multi-valued attribute: an array of them or a single one.
    private func values(_ value: SCIMJSON, _ attribute: SCIMAttribute) throws(SCIMError) -> [SCIMJSON] {
        var out: [SCIMJSON] = []
        for v in value.arrayValue ?? [value] {
            out.append(.object(canonical(try object(v, attribute.name), attribute)))
        }
        return out
    }

    /// A complex value with its declared sub-attributes under their declared names; undeclared ones dropped.
    func canonical(_ object: [String: SCIMJSON], _ attribute: SCIMAttribute) -> [String: SCIMJSON] {
        var out: [String: SCIMJSON] = [:]
        for (k, v) in object {
            if let sub = attribute.sub(k) { out[sub.name] = v }
        }
        return out
    }

    /// The `attr eq value` terms of a conjunction: what a new value must hold to match the filter.
    static func equalities(_ filter: SCIMFilter) -> [String: SCIMJSON] {
        var out: [String: SCIMJSON] = [:]
        for term in filter.conjuncts {
            if case .compare(let path, .eq, let v) = term, path.subAttribute == nil { out[path.name] = v }
        }
        return out
    }
}
