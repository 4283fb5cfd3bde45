import Foundation

/// The schema URNs this server speaks (RFC 7643 §8.7, RFC 7644 §3).
public enum SCIMSchemas {
    public static let user = "urn:ietf:params:scim:schemas:core:2.0:User"
    public static let listResponse = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    public static let patchOp = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    public static let error = "urn:ietf:params:scim:api:messages:2.0:Error"
    public static let serviceProviderConfig = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
    public static let resourceType = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
    public static let schema = "urn:ietf:params:scim:schemas:core:2.0:Schema"
}

/// One attribute of a published schema (RFC 7643 §7), with the characteristics clients read from `/Schemas`.
public struct SCIMAttribute: Sendable {
    public enum Kind: String, Sendable { case string, boolean, complex, integer, reference }
    public enum Mutability: String, Sendable { case readOnly, readWrite, immutable, writeOnly }

    public var name: String
    public var type: Kind
    public var multiValued = false
    public var description: String
    public var required = false
    public var mutability: Mutability = .readWrite
    public var uniqueness = "none"
    public var caseExact = false
    public var canonicalValues: [String] = []
    public var subAttributes: [SCIMAttribute] = []
    /// For `reference` attributes: what they may point at (`external`, `uri`).
    public var referenceTypes: [String] = []

    /// The attribute's definition as `/Schemas` shows it.
    var document: SCIMJSON {
        var d: [String: SCIMJSON] = [
            "name": .string(name), "type": .string(type.rawValue), "multiValued": .bool(multiValued),
            "description": .string(description), "required": .bool(required),
            "mutability": .string(mutability.rawValue), "returned": .string("default"),
        ]
        if type == .reference { d["referenceTypes"] = .array(referenceTypes.map(SCIMJSON.string)) }
        if type == .string || type == .reference {
            d["caseExact"] = .bool(caseExact)
            d["uniqueness"] = .string(uniqueness)
            if !canonicalValues.isEmpty { d["canonicalValues"] = .array(canonicalValues.map(SCIMJSON.string)) }
        }
        if type == .complex { d["subAttributes"] = .array(subAttributes.map(\.document)) }
        return .object(d)
    }

    func sub(_ name: String) -> SCIMAttribute? {
        subAttributes.first { $0.name.lowercased() == name.lowercased() }
    }
}

/// What this server publishes about itself: the User schema it keeps, its resource types and its configuration
/// (RFC 7644 §4). Only the attributes a recipient has are declared.
public enum SCIMDiscovery {
    /// The User attributes Cubby keeps, in the order they are shown.
    public static let userAttributes: [SCIMAttribute] = [
        SCIMAttribute(
            name: "userName", type: .string,
            description: "The recipient's email address; unique within the organization.", required: true,
            uniqueness: "server"),
        SCIMAttribute(
            name: "displayName", type: .string,
            description: "The recipient's name as shown on parcels and notifications (1–200 characters).",
            required: true),
        SCIMAttribute(
            name: "emails", type: .complex, multiValued: true,
            description: "The recipient's email address, the same as userName; set it through userName.",
            mutability: .readOnly,
            subAttributes: [
                SCIMAttribute(name: "value", type: .string, description: "The address.", mutability: .readOnly),
                SCIMAttribute(
                    name: "type", type: .string, description: "Always work.", mutability: .readOnly,
                    canonicalValues: ["work"]),
                SCIMAttribute(
                    name: "primary", type: .boolean, description: "Always true.", mutability: .readOnly),
            ]),
        SCIMAttribute(
            name: "phoneNumbers", type: .complex, multiValued: true,
            description: "The recipient's mobile number for text notifications, in E.164 form (+15550100199).",
            subAttributes: [
                SCIMAttribute(name: "value", type: .string, description: "The number, in E.164 form."),
                SCIMAttribute(
                    name: "type", type: .string, description: "The kind of number.", canonicalValues: ["mobile"]),
            ]),
        // A recipient always has a language and a status, so the two are required; a request that leaves one out
        // gets the default (en, active).
        SCIMAttribute(
            name: "preferredLanguage", type: .string,
            description: "The language notifications and the kiosk use for the recipient; en when left out.",
            required: true, canonicalValues: ["en", "es"]),
        SCIMAttribute(
            name: "active", type: .boolean,
            description:
                "false deactivates the recipient: nothing new is delivered to them and SCIM no longer shows them; true when left out.",
            required: true),
    ]

    static func attribute(_ name: String) -> SCIMAttribute? {
        userAttributes.first { $0.name.lowercased() == name.lowercased() }
    }

    /// The `/Schemas` entry of the User schema.
    static func userSchema(base: String) -> SCIMJSON {
        schema(
            SCIMSchemas.user, "User", "A recipient: someone parcels are delivered to.", userAttributes, base: base)
    }

    static func schema(_ id: String, _ name: String, _ description: String, _ attributes: [SCIMAttribute], base: String)
        -> SCIMJSON
    {
        .object([
            "schemas": .array([.string(SCIMSchemas.schema)]),
            "id": .string(id), "name": .string(name), "description": .string(description),
            "attributes": .array(attributes.map(\.document)),
            "meta": .object(["resourceType": .string("Schema"), "location": .string("\(base)/Schemas/\(id)")]),
        ])
    }

    /// Every schema this server publishes: the User schema and the three that describe discovery itself
    /// (RFC 7643 §8.7.2).
    static func schemas(base: String) -> [SCIMJSON] {
        [
            userSchema(base: base),
            schema(
                SCIMSchemas.serviceProviderConfig, "ServiceProviderConfig", "What the service provider supports.",
                serviceProviderConfigAttributes, base: base),
            schema(
                SCIMSchemas.resourceType, "ResourceType", "A type of resource the service provider serves.",
                resourceTypeAttributes, base: base),
            schema(
                SCIMSchemas.schema, "Schema", "The attributes of a resource or extension.", schemaAttributes,
                base: base),
        ]
    }

    private static func readOnly(
        _ name: String, _ type: SCIMAttribute.Kind, multiValued: Bool = false, required: Bool = false,
        referenceTypes: [String] = [], _ sub: [SCIMAttribute] = []
    ) -> SCIMAttribute {
        SCIMAttribute(
            name: name, type: type, multiValued: multiValued, description: name, required: required,
            mutability: .readOnly, subAttributes: sub, referenceTypes: referenceTypes)
    }

    private static func supported(_ name: String, _ more: [SCIMAttribute] = []) -> SCIMAttribute {
        readOnly(name, .complex, required: true, [readOnly("supported", .boolean, required: true)] + more)
    }

    static let serviceProviderConfigAttributes: [SCIMAttribute] = [
        readOnly("documentationUri", .reference, referenceTypes: ["external"]),
        supported("patch"),
        supported(
            "bulk",
            [readOnly("maxOperations", .integer, required: true), readOnly("maxPayloadSize", .integer, required: true)]),
        supported("filter", [readOnly("maxResults", .integer, required: true)]),
        supported("changePassword"), supported("sort"), supported("etag"),
        readOnly(
            "authenticationSchemes", .complex, multiValued: true, required: true,
            [
                readOnly("type", .string, required: true), readOnly("name", .string, required: true),
                readOnly("description", .string, required: true),
                readOnly("specUri", .reference, referenceTypes: ["external"]),
                readOnly("documentationUri", .reference, referenceTypes: ["external"]),
                readOnly("primary", .boolean),
            ]),
    ]

    static let resourceTypeAttributes: [SCIMAttribute] = [
        readOnly("id", .string), readOnly("name", .string, required: true), readOnly("description", .string),
        readOnly("endpoint", .reference, required: true, referenceTypes: ["uri"]),
        readOnly("schema", .reference, required: true, referenceTypes: ["uri"]),
        readOnly(
            "schemaExtensions", .complex, multiValued: true,
            [
                readOnly("schema", .reference, required: true, referenceTypes: ["uri"]),
                readOnly("required", .boolean, required: true),
            ]),
    ]

    private static let attributeDefinition: [SCIMAttribute] = [
        readOnly("name", .string, required: true), readOnly("type", .string, required: true),
        readOnly("multiValued", .boolean, required: true), readOnly("description", .string),
        readOnly("required", .boolean), readOnly("canonicalValues", .string, multiValued: true),
        readOnly("caseExact", .boolean), readOnly("mutability", .string), readOnly("returned", .string),
        readOnly("uniqueness", .string), readOnly("referenceTypes", .string, multiValued: true),
    ]

    static let schemaAttributes: [SCIMAttribute] = [
        readOnly("id", .string, required: true), readOnly("name", .string), readOnly("description", .string),
        readOnly(
            "attributes", .complex, multiValued: true, required: true,
            attributeDefinition + [readOnly("subAttributes", .complex, multiValued: true, attributeDefinition)]),
    ]

    static func userResourceType(base: String) -> SCIMJSON {
        .object([
            "schemas": .array([.string(SCIMSchemas.resourceType)]),
            "id": .string("User"), "name": .string("User"), "endpoint": .string("/Users"),
            "description": .string("Recipients of the credential's site"), "schema": .string(SCIMSchemas.user),
            "meta": .object([
                "resourceType": .string("ResourceType"), "location": .string("\(base)/ResourceTypes/User"),
            ]),
        ])
    }

    /// The most resources one list answer holds.
    public static let maxResults = 200

    static func serviceProviderConfig(base: String, documentation: String) -> SCIMJSON {
        .object([
            "schemas": .array([.string(SCIMSchemas.serviceProviderConfig)]),
            "documentationUri": .string(documentation),
            "patch": .object(["supported": .bool(true)]),
            "bulk": .object(["supported": .bool(false), "maxOperations": .number(0), "maxPayloadSize": .number(0)]),
            "filter": .object(["supported": .bool(true), "maxResults": .number(Double(maxResults))]),
            "changePassword": .object(["supported": .bool(false)]),
            "sort": .object(["supported": .bool(false)]),
            "etag": .object(["supported": .bool(false)]),
            "authenticationSchemes": .array([
                .object([
                    "type": .string("oauthbearertoken"), "name": .string("Bearer token"),
                    "description": .string("A Cubby credential of kind scim, sent as Authorization: Bearer."),
                    "primary": .bool(true),
                ])
            ]),
            "meta": .object([
                "resourceType": .string("ServiceProviderConfig"),
                "location": .string("\(base)/ServiceProviderConfig"),
            ]),
        ])
    }

    /// A ListResponse (RFC 7644 §3.4.2).
    static func list(_ resources: [SCIMJSON], total: Int, startIndex: Int) -> SCIMJSON {
        .object([
            "schemas": .array([.string(SCIMSchemas.listResponse)]),
            "totalResults": .number(Double(total)), "startIndex": .number(Double(startIndex)),
            "itemsPerPage": .number(Double(resources.count)), "Resources": .array(resources),
        ])
    }
}
