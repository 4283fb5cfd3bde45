import CubbyCore
import CubbyDemo
import CubbyServer
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("Bad input gets a clear 4xx and changes nothing")
struct BadInputTests {
    enum Who: Sendable { case none, courier, device, admin, carrier, otherDevice, bogus }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var method: HTTPRequest.Method
        var path: String
        var who: Who
        var body: String?
        var contentType: String? = "application/json"
        var status: Int
        var error: String
        var testDescription: String { name }
    }

    static let unitPath = "/api/v1/units/{unit}"
    static let cases: [Case] = [
        Case(
            name: "malformed JSON", method: .post, path: "\(unitPath)/dropoffs", who: .courier,
            body: "{\"trackingNumber\":", status: 400, error: "invalid_json"),
        Case(
            name: "JSON array", method: .post, path: "\(unitPath)/dropoffs", who: .courier, body: "[1,2]", status: 400,
            error: "invalid_json"),
        Case(
            name: "empty body", method: .post, path: "\(unitPath)/dropoffs", who: .courier, body: "", status: 400,
            error: "invalid_json"),
        Case(
            name: "missing field", method: .post, path: "\(unitPath)/dropoffs", who: .courier,
            body: #"{"trackingNumber":"X1","size":"S"}"#, status: 400, error: "invalid_request"),
        Case(
            name: "wrong type", method: .post, path: "\(unitPath)/dropoffs", who: .courier,
            body: #"{"trackingNumber":12,"recipientId":"{recipient}","size":"S"}"#, status: 400,
            error: "invalid_request"),
        Case(
            name: "null field", method: .post, path: "\(unitPath)/dropoffs", who: .courier,
            body: #"{"trackingNumber":null,"recipientId":"{recipient}","size":"S"}"#, status: 400,
            error: "invalid_request"),
        Case(
            name: "unknown field", method: .post, path: "\(unitPath)/dropoffs", who: .courier,
            body: #"{"trackingNumber":"X1","recipientId":"{recipient}","size":"S","admin":true}"#, status: 400,
            error: "invalid_request"),
        Case(
            name: "bad size", method: .post, path: "\(unitPath)/dropoffs", who: .courier,
            body: #"{"trackingNumber":"X1","recipientId":"{recipient}","size":"XXL"}"#, status: 400,
            error: "invalid_request"),
        Case(
            name: "bad tracking number", method: .post, path: "\(unitPath)/dropoffs", who: .courier,
            body: #"{"trackingNumber":"' OR 1=1 --","recipientId":"{recipient}","size":"S"}"#, status: 400,
            error: "invalid_request"),
        Case(
            name: "recipient not a UUID", method: .post, path: "\(unitPath)/dropoffs", who: .courier,
            body: #"{"trackingNumber":"X1","recipientId":"bob","size":"S"}"#, status: 400, error: "invalid_request"),
        Case(
            name: "unknown recipient", method: .post, path: "\(unitPath)/dropoffs", who: .courier,
            body: #"{"trackingNumber":"X1","recipientId":"00000000-0000-4000-8000-000000000000","size":"S"}"#,
            status: 404, error: "not_found"),
        Case(
            name: "unknown unit", method: .post, path: "/api/v1/units/00000000-0000-4000-8000-000000000000/dropoffs",
            who: .courier, body: #"{"trackingNumber":"X1","recipientId":"{recipient}","size":"S"}"#, status: 404,
            error: "not_found"),
        Case(
            name: "unit id not a UUID", method: .post, path: "/api/v1/units/lobby/dropoffs", who: .courier,
            body: #"{"trackingNumber":"X1","recipientId":"{recipient}","size":"S"}"#, status: 404, error: "not_found"),
        Case(
            name: "text/plain body", method: .post, path: "\(unitPath)/dropoffs", who: .courier,
            body: #"{"trackingNumber":"X1","recipientId":"{recipient}","size":"S"}"#, contentType: "text/plain",
            status: 415, error: "unsupported_media_type"),
        Case(
            name: "oversized body", method: .post, path: "\(unitPath)/dropoffs", who: .courier,
            body:
                #"{"trackingNumber":"\#(String(repeating: "A", count: 40_000))","recipientId":"{recipient}","size":"S"}"#,
            status: 413, error: "payload_too_large"),
        Case(
            name: "no credential", method: .post, path: "\(unitPath)/dropoffs", who: .none,
            body: #"{"trackingNumber":"X1","recipientId":"{recipient}","size":"S"}"#, status: 401, error: "unauthorized"
        ),
        Case(
            name: "forged credential", method: .post, path: "\(unitPath)/dropoffs", who: .bogus,
            body: #"{"trackingNumber":"X1","recipientId":"{recipient}","size":"S"}"#, status: 401, error: "unauthorized"
        ),
        Case(
            name: "device cannot drop off", method: .post, path: "\(unitPath)/dropoffs", who: .device,
            body: #"{"trackingNumber":"X1","recipientId":"{recipient}","size":"S"}"#, status: 403, error: "forbidden"),
        Case(
            name: "courier cannot pick up", method: .post, path: "\(unitPath)/pickups", who: .courier,
            body: #"{"code":"1234567890"}"#, status: 403, error: "forbidden"),
        Case(
            name: "another unit's device", method: .post, path: "\(unitPath)/pickups", who: .otherDevice,
            body: #"{"code":"1234567890"}"#, status: 404, error: "not_found"),
        Case(
            name: "empty code", method: .post, path: "\(unitPath)/pickups", who: .device, body: #"{"code":""}"#,
            status: 400, error: "invalid_request"),
        Case(
            name: "unknown event type", method: .post, path: "\(unitPath)/events", who: .device,
            body: #"{"type":"door_exploded","compartmentId":"00000000-0000-4000-8000-000000000000"}"#, status: 400,
            error: "invalid_request"),
        Case(
            name: "door_closed without itemPresent", method: .post, path: "\(unitPath)/events", who: .device,
            body: #"{"type":"door_closed","compartmentId":"00000000-0000-4000-8000-000000000000"}"#, status: 400,
            error: "invalid_request"),
        Case(
            name: "event with an unreadable time", method: .post, path: "\(unitPath)/events", who: .device,
            body:
                #"{"type":"door_opened","compartmentId":"00000000-0000-4000-8000-000000000000","occurredAt":"yesterday"}"#,
            status: 400, error: "invalid_request"),
        Case(
            name: "event for an unknown compartment", method: .post, path: "\(unitPath)/events", who: .device,
            body: #"{"type":"door_opened","compartmentId":"00000000-0000-4000-8000-000000000000"}"#, status: 404,
            error: "not_found"),
        Case(
            name: "unknown parcel", method: .get, path: "/api/v1/parcels/00000000-0000-4000-8000-000000000000",
            who: .admin, body: nil, status: 404, error: "not_found"),
        Case(
            name: "cancel an unknown parcel", method: .post,
            path: "/api/v1/parcels/00000000-0000-4000-8000-000000000000/cancel", who: .carrier, body: nil, status: 404,
            error: "not_found"),
        Case(
            name: "reassign: recipientId not a UUID", method: .post,
            path: "/api/v1/parcels/00000000-0000-4000-8000-000000000000/reassign", who: .admin,
            body: #"{"recipientId":"bob"}"#, status: 400, error: "invalid_request"),
        Case(
            name: "reassign: unknown field", method: .post,
            path: "/api/v1/parcels/00000000-0000-4000-8000-000000000000/reassign", who: .admin,
            body: #"{"recipientId":"{recipient}","codes":"keep"}"#, status: 400, error: "invalid_request"),
        Case(
            name: "reassign an unknown parcel", method: .post,
            path: "/api/v1/parcels/00000000-0000-4000-8000-000000000000/reassign", who: .admin,
            body: #"{"recipientId":"{recipient}"}"#, status: 404, error: "not_found"),
        Case(
            name: "reassign by a courier", method: .post,
            path: "/api/v1/parcels/00000000-0000-4000-8000-000000000000/reassign", who: .courier,
            body: #"{"recipientId":"{recipient}"}"#, status: 403, error: "forbidden"),
        Case(
            name: "extend: days as text", method: .post,
            path: "/api/v1/parcels/00000000-0000-4000-8000-000000000000/extend", who: .admin, body: #"{"days":"2"}"#,
            status: 400, error: "invalid_request"),
        Case(
            name: "extend: zero days", method: .post,
            path: "/api/v1/parcels/00000000-0000-4000-8000-000000000000/extend", who: .admin, body: #"{"days":0}"#,
            status: 400, error: "invalid_request"),
        Case(
            name: "extend: a fraction of a day", method: .post,
            path: "/api/v1/parcels/00000000-0000-4000-8000-000000000000/extend", who: .admin, body: #"{"days":1.5}"#,
            status: 400, error: "invalid_request"),
        Case(
            name: "extend: more than 30 days", method: .post,
            path: "/api/v1/parcels/00000000-0000-4000-8000-000000000000/extend", who: .admin, body: #"{"days":31}"#,
            status: 400, error: "invalid_request"),
        Case(
            name: "extend: days past any integer", method: .post,
            path: "/api/v1/parcels/00000000-0000-4000-8000-000000000000/extend", who: .admin,
            body: #"{"days":99999999999999999999}"#, status: 400, error: "invalid_request"),
        Case(
            name: "extend an unknown parcel", method: .post,
            path: "/api/v1/parcels/00000000-0000-4000-8000-000000000000/extend", who: .admin, body: #"{"days":1}"#,
            status: 404, error: "not_found"),
        Case(
            name: "extend by a carrier", method: .post,
            path: "/api/v1/parcels/00000000-0000-4000-8000-000000000000/extend", who: .carrier, body: #"{"days":1}"#,
            status: 403, error: "forbidden"),
        Case(
            name: "audit bad limit", method: .get, path: "/api/v1/audit/events?limit=0", who: .admin, body: nil,
            status: 400, error: "invalid_request"),
        Case(
            name: "audit for a courier", method: .get, path: "/api/v1/audit/events", who: .courier, body: nil,
            status: 403, error: "forbidden"),
        Case(
            name: "deliveries: unknown state", method: .get, path: "/api/v1/deliveries?state=lost", who: .admin,
            body: nil, status: 400, error: "invalid_request"),
        Case(
            name: "deliveries: unknown query parameter", method: .get, path: "/api/v1/deliveries?target=x",
            who: .admin, body: nil, status: 400, error: "invalid_request"),
        Case(
            name: "deliveries: bad limit", method: .get, path: "/api/v1/deliveries?limit=201", who: .admin,
            body: nil, status: 400, error: "invalid_request"),
        Case(
            name: "deliveries: cursor not a delivery id", method: .get, path: "/api/v1/deliveries?cursor=abc",
            who: .admin, body: nil, status: 400, error: "invalid_request"),
        Case(
            name: "deliveries: parcelId not a UUID", method: .get, path: "/api/v1/deliveries?parcelId=1%27%20OR%201",
            who: .admin, body: nil, status: 400, error: "invalid_request"),
        Case(
            name: "deliveries: channel with a quote", method: .get, path: "/api/v1/deliveries?channel=fi%27le",
            who: .admin, body: nil, status: 400, error: "invalid_request"),
        Case(
            name: "deliveries summary: a query parameter", method: .get, path: "/api/v1/deliveries/summary?x=1",
            who: .admin, body: nil, status: 400, error: "invalid_request"),
        Case(
            name: "deliveries for a courier", method: .get, path: "/api/v1/deliveries", who: .courier, body: nil,
            status: 403, error: "forbidden"),
        Case(
            name: "retry an unknown delivery", method: .post, path: "/api/v1/deliveries/99999999/retry", who: .admin,
            body: nil, status: 404, error: "not_found"),
        Case(
            name: "redeliver a delivery id that is not a number", method: .post,
            path: "/api/v1/deliveries/abc/redeliver", who: .admin, body: nil, status: 404, error: "not_found"),
        Case(
            name: "a carrier cannot retry a delivery", method: .post, path: "/api/v1/deliveries/1/retry",
            who: .carrier, body: nil, status: 403, error: "forbidden"),
        Case(
            name: "site with quiet hours past 24:00", method: .post, path: "/api/v1/sites", who: .admin,
            body: #"{"name":"Q","address":"1 Main St","timeZone":"UTC","quietHours":"22:00-24:30"}"#, status: 400,
            error: "invalid_request"),
        Case(
            name: "site with empty quiet hours", method: .post, path: "/api/v1/sites", who: .admin,
            body: #"{"name":"Q","address":"1 Main St","timeZone":"UTC","quietHours":"08:00-08:00"}"#, status: 400,
            error: "invalid_request"),
        Case(
            name: "site quiet hours as a number", method: .patch, path: "/api/v1/sites/{site}", who: .admin,
            body: #"{"quietHours":2100}"#, status: 400, error: "invalid_request"),
        Case(
            name: "site quiet hours without minutes", method: .patch, path: "/api/v1/sites/{site}", who: .admin,
            body: #"{"quietHours":"21-8"}"#, status: 400, error: "invalid_request"),
        Case(
            name: "on-call list without contacts", method: .put, path: "/api/v1/sites/{site}/on-call", who: .admin,
            body: #"{"escalationDelaySeconds":60}"#, status: 400, error: "invalid_request"),
        Case(
            name: "on-call contact on an unknown channel", method: .put, path: "/api/v1/sites/{site}/on-call",
            who: .admin, body: #"{"contacts":[{"email":"nobody@example.org","channels":["fax"]}]}"#, status: 400,
            error: "invalid_request"),
        Case(
            name: "on-call delay of a week", method: .put, path: "/api/v1/sites/{site}/on-call", who: .admin,
            body: #"{"contacts":[],"escalationDelaySeconds":604800}"#, status: 400, error: "invalid_request"),
        Case(
            name: "on-call list as text", method: .put, path: "/api/v1/sites/{site}/on-call", who: .admin,
            body: #"{"contacts":[]}"#, contentType: "text/plain", status: 415, error: "unsupported_media_type"),
        Case(
            name: "on-call list for a courier", method: .get, path: "/api/v1/sites/{site}/on-call", who: .courier,
            body: nil, status: 403, error: "forbidden"),
        Case(
            name: "an alert id that is not a UUID", method: .get, path: "/api/v1/alerts/lobby", who: .admin, body: nil,
            status: 404, error: "not_found"),
        Case(
            name: "no such route", method: .get, path: "/api/v1/nothing-here", who: .admin, body: nil, status: 404,
            error: "not_found"),
    ]

    @Test("bad request table", arguments: Backend.available, cases)
    func badRequest(_ backend: Backend, _ c: Case) async throws {
        try await TestWorld.with(backend) { w in
            let m = w.manifest
            let token: String? =
                switch c.who {
                case .none: nil
                case .courier: m.courierToken
                case .device: m.units[0].deviceToken
                case .otherDevice: m.units[1].deviceToken
                case .admin: m.adminToken
                case .carrier: m.carrierToken
                case .bogus: "cby_courier_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                }
            let path = c.path.replacingOccurrences(of: "{unit}", with: w.unit).replacingOccurrences(
                of: "{site}", with: m.siteId)
            let body = c.body?.replacingOccurrences(of: "{recipient}", with: m.recipients[0].id)
            let before = try await w.counts()
            let r = try await w.test { client in
                try await client.call(c.method, path, token: token, json: body, contentType: c.contentType)
            }
            #expect(r.status == c.status)
            #expect(r.body.str("error") == c.error)
            #expect((r.body.str("message") ?? "").isEmpty == false)
            let after = try await w.counts()
            #expect(after.parcels == before.parcels)
            #expect(after.audit == before.audit)
        }
    }

    @Test("a drop-off at a site the courier's carrier does not serve answers 404", arguments: Backend.available)
    func outsideScope(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            // A second organization with its own unit: invisible to the first organization's courier.
            let other = try await DemoSeed(parts: w.parts).seed(
                server: "x", unitCount: 1, superAdminEmail: "admin@other.example")
            try await w.test { c in
                let r = try await c.call(
                    .post, "/api/v1/units/\(other.units[0].id)/dropoffs", token: w.manifest.courierToken,
                    json: #"{"trackingNumber":"X9","recipientId":"\#(other.recipients[0].id)","size":"S"}"#)
                #expect(r.status == 404)
                let u = try await c.call(.get, "/api/v1/units/\(other.units[0].id)", token: w.manifest.adminToken)
                #expect(u.status == 404)
                // A recipient of another organization is unknown too.
                let r2 = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/dropoffs", token: w.manifest.courierToken,
                    json: #"{"trackingNumber":"X9","recipientId":"\#(other.recipients[0].id)","size":"S"}"#)
                #expect(r2.status == 404)
            }
        }
    }

    @Test("every operation of the OpenAPI document except health and the document answers 401 without credentials")
    func everyRouteNeedsCredentials() async throws {
        try await TestWorld.with(.sqlite) { w in
            let doc = String(decoding: try OpenAPIDocument.bytes(), as: UTF8.self)
            var operations: [(HTTPRequest.Method, String)] = []
            var currentPath: String?
            for line in doc.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("  /"), line.hasSuffix(":") {
                    currentPath = String(line.dropFirst(2).dropLast())
                } else if let p = currentPath, line.hasPrefix("    "), !line.hasPrefix("     ") {
                    let key = line.trimmingCharacters(in: .whitespaces).dropLast()
                    if ["get", "post", "put", "delete", "patch"].contains(key) {
                        operations.append((HTTPRequest.Method(rawValue: key.uppercased())!, p))
                    }
                } else if !line.hasPrefix(" ") {
                    currentPath = nil
                }
            }
            #expect(operations.count >= 12)
            let ops = operations
            try await w.test { c in
                for (method, template) in ops {
                    let path = template.replacingOccurrences(of: "{unitId}", with: w.unit)
                        .replacingOccurrences(of: "{parcelId}", with: "00000000-0000-4000-8000-000000000000")
                    let r = try await c.call(method, path, json: method == .post ? "{}" : nil)
                    if template == "/healthz" || template == "/api/v1/openapi.yaml" {
                        #expect(r.status == 200, "\(method) \(template)")
                    } else if template == "/api/v1/edge/enroll" {
                        // Open: the one-time code is the credential; an empty body lacks it.
                        #expect(r.status == 400, "\(method) \(template)")
                    } else if template == "/unsubscribe/{token}" || template == "/report/{token}" {
                        // Open: the signed token is the credential; a made-up one names nothing.
                        #expect(r.status == 404, "\(method) \(template)")
                    } else {
                        #expect(r.status == 401, "\(method) \(template)")
                    }
                }
            }
        }
    }
}
