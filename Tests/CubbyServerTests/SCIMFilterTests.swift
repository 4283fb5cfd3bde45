import Foundation
import Testing

@testable import CubbyServer

@Suite("SCIM filter grammar (RFC 7644 §3.4.2.2)")
struct SCIMFilterTests {
    static let user = SCIMSchemas.user

    static let valid: [(String, SCIMFilter)] = [
        (#"userName eq "bjensen""#, .compare(.init("userName"), .eq, .string("bjensen"))),
        (#"USERNAME EQ "a@b.org""#, .compare(.init("USERNAME"), .eq, .string("a@b.org"))),
        (#"externalId eq "00u1""#, .compare(.init("externalId"), .eq, .string("00u1"))),
        (#"name.familyName co "O'Malley""#, .compare(.init("name", "familyName"), .co, .string("O'Malley"))),
        (#"userName sw "J""#, .compare(.init("userName"), .sw, .string("J"))),
        (
            #"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            .compare(.init(schema: user, "userName"), .sw, .string("J"))
        ),
        ("title pr", .present(.init("title"))),
        (
            #"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            .compare(.init("meta", "lastModified"), .gt, .string("2011-05-13T04:42:34Z"))
        ),
        ("active eq false", .compare(.init("active"), .eq, .bool(false))),
        ("active eq True", .compare(.init("active"), .eq, .bool(true))),
        ("x eq null", .compare(.init("x"), .eq, .null)),
        ("count ge -1.5", .compare(.init("count"), .ge, .number(-1.5))),
        (#"userName eq "a\"b""#, .compare(.init("userName"), .eq, .string("a\"b"))),
        (
            #"userName eq "a" and externalId eq "b""#,
            .and(.compare(.init("userName"), .eq, .string("a")), .compare(.init("externalId"), .eq, .string("b")))
        ),
        (
            #"a eq "1" or b eq "2" and c eq "3""#,
            .or(
                .compare(.init("a"), .eq, .string("1")),
                .and(.compare(.init("b"), .eq, .string("2")), .compare(.init("c"), .eq, .string("3"))))
        ),
        (
            #"(a eq "1" or b eq "2") and c eq "3""#,
            .and(
                .or(.compare(.init("a"), .eq, .string("1")), .compare(.init("b"), .eq, .string("2"))),
                .compare(.init("c"), .eq, .string("3")))
        ),
        (#"not (userName eq "x")"#, .not(.compare(.init("userName"), .eq, .string("x")))),
        (
            #"emails[type eq "work" and value co "@example.com"]"#,
            .valuePath(
                .init("emails"),
                .and(
                    .compare(.init("type"), .eq, .string("work")),
                    .compare(.init("value"), .co, .string("@example.com"))))
        ),
    ]

    @Test(arguments: valid.indices)
    func validFiltersParse(_ i: Int) throws {
        let (text, expected) = Self.valid[i]
        #expect(try SCIMFilter.parse(text) == expected, "\(text)")
    }

    static let invalid: [String] = [
        "", "userName", #"userName eq"#, #"userName equals "x""#, #"userName eq x"#, #"userName eq "x"#,
        #"userName eq "x" and"#, #"(userName eq "x""#, #"userName eq "x")"#, #"not userName eq "x""#,
        #"1name eq "x""#, #"emails[type eq "work""#, #"emails[type[value eq "x"]]"#, #"userName eq "x" xor a pr"#,
        #"foo:userName eq "x""#, #"userName eq 1e999"#, #"a.b.c eq "x""#, #"userName eq "\q""#,
    ]

    @Test(arguments: invalid)
    func invalidFiltersAreInvalidFilter(_ text: String) {
        #expect(throws: SCIMError.self) { try SCIMFilter.parse(text) }
        do {
            _ = try SCIMFilter.parse(text)
        } catch {
            #expect(error.scimType == .invalidFilter && error.status == 400, "\(text)")
        }
    }

    @Test func matchingIgnoresCaseOfNamesAndStringValues() throws {
        let doc: [String: SCIMJSON] = [
            "userName": .string("Ann@Example.org"), "active": .bool(true),
            "emails": .array([.object(["value": .string("ann@example.org"), "type": .string("work")])]),
        ]
        #expect(try SCIMFilter.parse(#"username eq "ann@example.ORG""#).matches(doc))
        #expect(try SCIMFilter.parse(#"emails[type eq "WORK"]"#).matches(doc))
        #expect(try SCIMFilter.parse(#"emails eq "ann@example.org""#).matches(doc))
        #expect(try !SCIMFilter.parse(#"userName eq "ann@example.org" and active eq false"#).matches(doc))
        #expect(try SCIMFilter.parse(#"not (active eq false)"#).matches(doc))
        #expect(try !SCIMFilter.parse("phoneNumbers pr").matches(doc))
    }
}

@Suite("SCIM PATCH operations (RFC 7644 §3.5.2)")
struct SCIMPatchTests {
    static let base: [String: SCIMJSON] = [
        "userName": .string("ann@example.org"), "displayName": .string("Ann Lee"), "active": .bool(true),
        "preferredLanguage": .string("en"),
        "emails": .array([
            .object(["value": .string("ann@example.org"), "type": .string("work"), "primary": .bool(true)])
        ]),
        "phoneNumbers": .array([.object(["value": .string("+15550100199"), "type": .string("mobile")])]),
    ]

    static func message(_ ops: String) -> SCIMJSON {
        let text = #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":["# + ops + "]}"
        return SCIMJSON.parse(Data(text.utf8))!
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var ops: String
        /// Attribute → expected value after the operations (nil: absent).
        var expect: [String: SCIMJSON?]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "replace with a path", ops: #"{"op":"replace","path":"displayName","value":"Ann B"}"#,
            expect: ["displayName": .string("Ann B")]),
        Case(
            name: "Entra: capitalised op, active as the string False",
            ops: #"{"op":"Replace","path":"active","value":"False"}"#, expect: ["active": .string("False")]),
        Case(
            name: "Entra: path-less replace with an object", ops: #"{"op":"Replace","value":{"active":false}}"#,
            expect: ["active": .bool(false)]),
        Case(
            name: "Okta: path-less replace of several attributes",
            ops: #"{"op":"replace","value":{"displayName":"Ann C","preferredLanguage":"es"}}"#,
            expect: ["displayName": .string("Ann C"), "preferredLanguage": .string("es")]),
        Case(
            name: "path-less value keys that are paths", ops: #"{"op":"add","value":{"name.givenName":"Ann"}}"#,
            expect: ["name": .object(["givenName": .string("Ann")])]),
        Case(
            name: "path qualified with the core schema",
            ops: #"{"op":"replace","path":"urn:ietf:params:scim:schemas:core:2.0:User:displayName","value":"X"}"#,
            expect: ["displayName": .string("X")]),
        Case(
            name: "attribute names ignore case", ops: #"{"op":"replace","path":"DISPLAYNAME","value":"Y"}"#,
            expect: ["displayName": .string("Y")]),
        Case(
            name: "add to a single-valued attribute replaces it",
            ops: #"{"op":"add","path":"preferredLanguage","value":"es"}"#, expect: ["preferredLanguage": .string("es")]),
        Case(
            name: "remove an attribute", ops: #"{"op":"remove","path":"phoneNumbers"}"#, expect: ["phoneNumbers": nil]),
        Case(
            name: "Entra: replace a filtered value's sub-attribute",
            ops: #"{"op":"replace","path":"phoneNumbers[type eq \"mobile\"].value","value":"+15550100100"}"#,
            expect: [
                "phoneNumbers": .array([.object(["value": .string("+15550100100"), "type": .string("mobile")])])
            ]),
        Case(
            name: "Entra: add through a filter that matches nothing makes the value",
            ops: #"{"op":"Add","path":"phoneNumbers[type eq \"work\"].value","value":"+15550100101"}"#,
            expect: [
                "phoneNumbers": .array([
                    .object(["value": .string("+15550100199"), "type": .string("mobile")]),
                    .object(["value": .string("+15550100101"), "type": .string("work")]),
                ])
            ]),
        Case(
            name: "remove the values a filter matches",
            ops: #"{"op":"remove","path":"phoneNumbers[type eq \"mobile\"]"}"#, expect: ["phoneNumbers": nil]),
        Case(
            name: "add to a multi-valued attribute appends",
            ops:
                #"{"op":"add","path":"phoneNumbers","value":[{"value":"+15550100102","type":"mobile","primary":true}]}"#,
            expect: [
                "phoneNumbers": .array([
                    .object(["value": .string("+15550100199"), "type": .string("mobile")]),
                    .object(["value": .string("+15550100102"), "type": .string("mobile")]),
                ])
            ]),
        Case(
            name: "replace a multi-valued attribute",
            ops: #"{"op":"replace","path":"phoneNumbers","value":[{"value":"+15550100103"}]}"#,
            expect: ["phoneNumbers": .array([.object(["value": .string("+15550100103")])])]),
        Case(
            name: "sub-attribute without a filter",
            ops: #"{"op":"replace","path":"phoneNumbers.value","value":"+15550100104"}"#,
            expect: [
                "phoneNumbers": .array([.object(["value": .string("+15550100104"), "type": .string("mobile")])])
            ]),
        Case(
            name: "read-only emails are left as they are",
            ops: #"{"op":"replace","path":"emails[type eq \"work\"].value","value":"x@example.org"}"#,
            expect: ["emails": base["emails"]!]),
        Case(
            name: "undeclared attributes and other schemas are ignored",
            ops:
                #"{"op":"add","path":"title","value":"Boss"},{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"X"}"#,
            expect: ["title": nil, "department": nil, "displayName": .string("Ann Lee")]),
        Case(
            name: "operations apply in order",
            ops:
                #"{"op":"replace","path":"displayName","value":"A"},{"op":"replace","path":"displayName","value":"B"}"#,
            expect: ["displayName": .string("B")]),
        Case(
            name: "complex add merges sub-attributes",
            ops:
                #"{"op":"add","path":"name","value":{"givenName":"Ann"}},{"op":"add","path":"name","value":{"familyName":"Lee"}}"#,
            expect: ["name": .object(["givenName": .string("Ann"), "familyName": .string("Lee")])]),
        Case(
            name: "remove a sub-attribute",
            ops: #"{"op":"add","path":"name.givenName","value":"A"},{"op":"remove","path":"name.givenName"}"#,
            expect: ["name": nil]),
    ]

    @Test(arguments: cases)
    func operations(_ c: Case) throws {
        let out = try SCIMUsers.engine.apply(message: Self.message(c.ops), to: Self.base)
        for (key, value) in c.expect {
            #expect(out[key] == value, "\(key): \(String(describing: out[key]))")
        }
    }

    static let refused: [(String, String, SCIMError.Kind)] = [
        ("remove without a path", #"{"op":"remove"}"#, .noTarget),
        ("unknown op", #"{"op":"move","path":"displayName","value":"x"}"#, .invalidSyntax),
        ("path-less value not an object", #"{"op":"replace","value":"x"}"#, .invalidSyntax),
        ("add without a value", #"{"op":"add","path":"displayName"}"#, .invalidSyntax),
        ("bad path", #"{"op":"replace","path":"display Name!","value":"x"}"#, .invalidPath),
        (
            "filter on a single-valued attribute",
            #"{"op":"replace","path":"displayName[value eq \"x\"]","value":"x"}"#, .invalidPath
        ),
        ("path not a string", #"{"op":"replace","path":1,"value":"x"}"#, .invalidPath),
        ("operation not an object", #""replace""#, .invalidSyntax),
        ("multi-valued value not objects", #"{"op":"add","path":"phoneNumbers","value":["x"]}"#, .invalidValue),
    ]

    @Test(arguments: refused.indices)
    func refusedOperations(_ i: Int) {
        let (name, ops, kind) = Self.refused[i]
        do {
            _ = try SCIMUsers.engine.apply(message: Self.message(ops), to: Self.base)
            Issue.record("\(name) was accepted")
        } catch {
            #expect(error.scimType == kind && error.status == 400, "\(name): \(error)")
        }
    }

    @Test func theMessageNeedsThePatchOpSchemaAndOperations() {
        for body in [
            #"{"Operations":[{"op":"remove","path":"displayName"}]}"#,
            #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}"#,
            #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}"#, "[]",
        ] {
            #expect(throws: SCIMError.self) {
                try SCIMUsers.engine.apply(message: SCIMJSON.parse(Data(body.utf8))!, to: Self.base)
            }
        }
    }

    @Test func entraAndOktaBooleansAreRead() throws {
        for (text, expected) in [("\"False\"", false), ("\"true\"", true), ("false", false), ("true", true)] {
            let v = SCIMJSON.parse(Data(text.utf8))!
            #expect(v.lenientBool == expected)
        }
        #expect(SCIMJSON.string("no").lenientBool == nil)
        #expect(SCIMJSON.number(0).lenientBool == nil)
    }
}
