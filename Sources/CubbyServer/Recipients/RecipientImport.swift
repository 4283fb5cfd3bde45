import CubbyCore
import CubbyCrypto
import CubbyStore
import Foundation

/// How an import runs.
public struct RecipientImportOptions: Sendable, Equatable {
    /// The site the file lists the recipients of.
    public var siteId: String
    /// Check and report only; nothing is written or audited.
    public var dryRun: Bool
    /// Deactivate the site's active recipients that the file does not list.
    public var deactivateMissing: Bool

    public init(siteId: String, dryRun: Bool = false, deactivateMissing: Bool = false) {
        self.siteId = siteId
        self.dryRun = dryRun
        self.deactivateMissing = deactivateMissing
    }
}

/// What an import did (or, in a dry run or with rejected rows, would do), row by row.
public struct RecipientImportReport: Sendable, Equatable, Codable {
    public enum Outcome: String, Sendable, Codable {
        case created, updated, unchanged, rejected
    }

    /// One data row's outcome. `row` counts the header as row 1.
    public struct Row: Sendable, Equatable, Codable {
        public var row: Int
        public var outcome: Outcome
        public var recipientId: String?
        /// For an update: the fields that change (names only; `active` when a deactivated recipient comes back).
        public var fields: [String]?
        /// For a rejected row: the column at fault (as the file names it), if one is.
        public var column: String?
        public var reason: String?

        enum CodingKeys: String, CodingKey {
            case row, outcome, recipientId, fields, column, reason
        }

        /// Empty fields are sent as null, never left out.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(row, forKey: .row)
            try c.encode(outcome, forKey: .outcome)
            try c.encode(recipientId, forKey: .recipientId)
            try c.encode(fields, forKey: .fields)
            try c.encode(column, forKey: .column)
            try c.encode(reason, forKey: .reason)
        }
    }

    public var siteId: String
    public var dryRun: Bool
    /// Whether the changes were written: false for a dry run and whenever a row is rejected.
    public var committed: Bool
    public var rows: Int
    public var created: Int
    public var updated: Int
    public var unchanged: Int
    public var rejected: Int
    public var deactivated: Int
    /// Each recognised column (as the file names it) and the field it fills.
    public var columns: [String: String]
    /// The columns the import does not know, ignored.
    public var ignoredColumns: [String]
    public var results: [Row]
    /// Recipients of the site the file does not list, deactivated with `deactivateMissing`.
    public var deactivatedRecipients: [String]
}

/// The CSV import of recipients: the accepted headers, the limits and the upsert rule. See docs/recipients-import.md.
public enum RecipientImport {
    /// The largest file accepted (10 MiB); the server's general body limit does not apply to the import route.
    public static let maxBytes = 10 * 1024 * 1024
    /// The most data rows in one file.
    public static let maxRows = 50_000

    /// The fields a column can fill.
    enum Field: String, CaseIterable {
        case name, firstName, lastName, email, phone, apartment, externalId, preferredLanguage, needsAccessible
    }

    /// Accepted header names, compared after dropping case and everything but letters and digits.
    static let headers: [String: Field] = {
        var map: [String: Field] = [:]
        let names: [Field: [String]] = [
            .name: ["name", "full name", "fullname", "display name", "resident name", "recipient name"],
            .firstName: ["first name", "given name", "first"],
            .lastName: ["last name", "surname", "family name", "last"],
            .email: ["email", "e-mail", "email address", "e-mail address", "mail"],
            .phone: [
                "phone", "mobile", "cell", "phone number", "mobile phone", "mobile number", "cell phone", "telephone",
                "sms",
            ],
            .apartment: [
                "apartment", "apt", "unit", "suite", "office", "apartment number", "apt no", "unit number", "room",
            ],
            .externalId: [
                "external id", "resident id", "tenant id", "person id", "employee id", "student id", "pms id",
            ],
            .preferredLanguage: ["language", "preferred language", "lang", "locale"],
            .needsAccessible: [
                "accessible", "needs accessible", "ada", "accessibility", "needs accessibility", "accessible locker",
            ],
        ]
        for (field, list) in names { for name in list { map[fold(name)] = field } }
        return map
    }()

    /// A header name folded for matching: `E-mail Address` → `emailaddress`.
    static func fold(_ header: String) -> String {
        String(header.lowercased().unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) })
    }

    /// A yes/no cell; empty means no.
    static func flag(_ text: String) -> Bool? {
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "", "no", "n", "false", "0", "f": false
        case "yes", "y", "true", "1", "t", "x": true
        default: nil
        }
    }
}

extension RecipientDesk {
    /// Creates, updates and (optionally) deactivates the recipients of one site from a CSV file, in one transaction.
    ///
    /// Rows are matched by external id, else by email, among the organization's recipients (deactivated ones too,
    /// which come back). If any row is rejected nothing is written and the report says why; a dry run writes nothing
    /// and audits nothing. Throws before any work for a file over the limits or one that is not well-formed CSV.
    public func importCSV(_ p: Principal, csv: [UInt8], options: RecipientImportOptions, actor: Actor? = nil)
        async throws -> RecipientImportReport
    {
        try AccessPolicy.require(p, .importRecipients)
        guard csv.count <= RecipientImport.maxBytes else {
            throw RecipientError.importTooLarge("the file is larger than \(RecipientImport.maxBytes) bytes")
        }
        let siteId = try Self.id(options.siteId, "siteId")
        let table: CSVTable
        do { table = try CSVParser.parse(csv, maxRows: RecipientImport.maxRows) } catch {
            if case .tooManyRows = error {
                throw RecipientError.importTooLarge("the file has more than \(RecipientImport.maxRows) rows")
            }
            throw RecipientError.invalidCSV(error.message)
        }
        let layout = try ColumnLayout(table.header)
        let parsed = table.rows.map { layout.read($0) }
        let actor = actor ?? p.actor
        if options.dryRun {
            return try await store.read { s in
                let site = try await siteInScope(s, p, siteId)
                return try await plan(s, site: site, layout: layout, rows: parsed, options: options).report
            }
        }
        return try await ledger.write { s in
            let site = try await siteInScope(s, p, siteId)
            let plan = try await plan(s, site: site, layout: layout, rows: parsed, options: options)
            guard plan.report.rejected == 0 else { return plan.report }
            try await apply(s, plan, actor: actor, site: site)
            var report = plan.report
            report.committed = true
            return report
        }
    }

    // MARK: reading the file

    /// Which column fills which field.
    struct ColumnLayout {
        var index: [RecipientImport.Field: Int] = [:]
        var names: [String] = []
        var ignored: [String] = []

        init(_ header: [String]) throws {
            names = header
            for (i, raw) in header.enumerated() {
                let name = raw.trimmingCharacters(in: .whitespaces)
                guard let field = RecipientImport.headers[RecipientImport.fold(name)] else {
                    ignored.append(name)
                    continue
                }
                if let earlier = index[field] {
                    throw RecipientError.invalidCSV(
                        "columns \"\(header[earlier])\" and \"\(name)\" both give the \(field.rawValue)")
                }
                index[field] = i
            }
            guard index[.name] != nil || index[.firstName] != nil || index[.lastName] != nil else {
                throw RecipientError.invalidCSV("the header needs a name column (or first name and last name)")
            }
            guard index[.email] != nil || index[.externalId] != nil else {
                throw RecipientError.invalidCSV("the header needs an email or an external id column")
            }
        }

        func has(_ f: RecipientImport.Field) -> Bool { index[f] != nil }
        func column(_ f: RecipientImport.Field) -> String? { index[f].map { names[$0] } }

        var columns: [String: String] {
            Dictionary(uniqueKeysWithValues: index.map { (names[$0.value], $0.key.rawValue) })
        }

        /// A row's cells by field, checked; the first problem makes it a rejected row.
        func read(_ row: CSVTable.Row) -> Cells {
            var cells = Cells(row: row.number)
            func cell(_ f: RecipientImport.Field) -> String? {
                index[f].map { row.fields[$0].trimmingCharacters(in: .whitespaces) }
            }
            func reject(_ f: RecipientImport.Field?, _ reason: String) -> Cells {
                var c = Cells(row: row.number)
                c.problem = (f.flatMap(column), reason)
                return c
            }
            struct Rejected: Error {
                var field: RecipientImport.Field?
                var reason: String
            }
            func checked(_ f: RecipientImport.Field, _ check: (String) throws -> String) throws -> String?? {
                guard let text = cell(f) else { return nil }
                if text.isEmpty { return .some(nil) }
                do { return .some(try check(text)) } catch { throw Rejected(field: f, reason: Self.reason(error)) }
            }
            do {
                var name = cell(.name) ?? ""
                var nameField: RecipientImport.Field = has(.name) ? .name : (has(.firstName) ? .firstName : .lastName)
                if name.isEmpty, has(.firstName) || has(.lastName) {
                    name = [cell(.firstName), cell(.lastName)].compactMap { $0 }.filter { !$0.isEmpty }.joined(
                        separator: " ")
                    nameField = has(.firstName) ? .firstName : .lastName
                }
                guard !name.isEmpty else { throw Rejected(field: nameField, reason: "the name is empty") }
                do { cells.name = try RecipientRules.name(name) } catch {
                    throw Rejected(field: nameField, reason: Self.reason(error))
                }
                cells.email = try checked(.email, RecipientRules.email)
                cells.phone = try checked(.phone, RecipientRules.phone)
                cells.apartment = try checked(.apartment, RecipientRules.apartment)
                cells.externalId = try checked(.externalId, RecipientRules.externalId)
                if let l = cell(.preferredLanguage) {
                    guard let language = l.isEmpty ? .en : PreferredLanguage(naming: l) else {
                        throw Rejected(field: .preferredLanguage, reason: "the language must be en or es")
                    }
                    cells.language = language
                }
                if let f = cell(.needsAccessible) {
                    guard let value = RecipientImport.flag(f) else {
                        throw Rejected(field: .needsAccessible, reason: "accessible must be yes or no (or empty)")
                    }
                    cells.accessible = value
                }
            } catch let r as Rejected {
                return reject(r.field, r.reason)
            } catch {
                return reject(nil, Self.reason(error))
            }
            if (cells.email ?? nil) == nil && (cells.externalId ?? nil) == nil {
                return reject(nil, "the row needs an email or an external id to be matched by")
            }
            return cells
        }

        static func reason(_ error: any Error) -> String {
            if case .invalid(_, let message) = error as? RecipientError { return message }
            return "the value is not valid"
        }
    }

    /// A row's values. For the optional fields nil means "no such column" (keep), `.some(nil)` an empty cell (clear).
    struct Cells: Sendable {
        var row: Int
        var name = ""
        var email: String?? = nil
        var phone: String?? = nil
        var apartment: String?? = nil
        var externalId: String?? = nil
        var language: PreferredLanguage? = nil
        var accessible: Bool? = nil
        var problem: (column: String?, reason: String)? = nil
    }

    // MARK: planning and writing

    struct Plan: Sendable {
        var report: RecipientImportReport
        var creates: [(row: Int, record: RecipientRecord)] = []
        var updates: [(row: Int, record: RecipientRecord, fields: [String], reactivated: Bool)] = []
        var deactivations: [RecipientRecord] = []
    }

    /// Decides every row against the organization's recipients as they are in this transaction.
    func plan(
        _ s: StoreSession, site: SiteRecord, layout: ColumnLayout, rows: [Cells], options: RecipientImportOptions
    ) async throws -> Plan {
        let org = site.organizationId
        let existing = try await s.recipients(organization: org)
        // New recipients' data keys are wrapped by the ring's primary key; a dry run writes nothing, not even the
        // ring's first key, so it wraps by a key of its own that is never stored.
        let wrapping: RingKey
        if !options.dryRun {
            wrapping = try await keys.primaryRingKey(s)
        } else if let primary = try await s.primaryRingKey(lock: false) {
            wrapping = try keys.open(primary)
        } else {
            wrapping = RingKey.generate()
        }
        for r in existing { try await keys.ensureWrappingKey(s, for: r.dataKey) }
        var byEmail: [Data: RecipientRecord] = [:]
        var byExternal: [Data: RecipientRecord] = [:]
        for r in existing {
            if let h = r.emailHash { byEmail[h] = r }
            if let h = r.externalIdHash { byExternal[h] = r }
        }
        var plan = Plan(
            report: RecipientImportReport(
                siteId: site.id, dryRun: options.dryRun, committed: false, rows: rows.count, created: 0, updated: 0,
                unchanged: 0, rejected: 0, deactivated: 0, columns: layout.columns,
                ignoredColumns: layout.ignored, results: [], deactivatedRecipients: []))
        var seenEmail: [Data: Int] = [:]
        var seenExternal: [Data: Int] = [:]
        var matched: [String: Int] = [:]
        let at = clock.now().millisecondsSince1970
        let emailColumn = layout.column(.email)
        let externalColumn = layout.column(.externalId)

        for cells in rows {
            func reject(_ column: String?, _ reason: String) {
                plan.report.results.append(.init(row: cells.row, outcome: .rejected, column: column, reason: reason))
                plan.report.rejected += 1
            }
            if let problem = cells.problem {
                reject(problem.column, problem.reason)
                continue
            }
            let newEmail = cells.email ?? nil
            let newExternal = cells.externalId ?? nil
            let emailKey = newEmail.map(emailHash)
            let externalKey = newExternal.map { externalIdHash(organization: org, $0) }
            if let k = externalKey, let earlier = seenExternal[k] {
                reject(externalColumn, "the external id is also on row \(earlier)")
                continue
            }
            if let k = emailKey, let earlier = seenEmail[k] {
                reject(emailColumn, "the email is also on row \(earlier)")
                continue
            }
            if let k = externalKey { seenExternal[k] = cells.row }
            if let k = emailKey { seenEmail[k] = cells.row }

            // Upsert: by external id, else by email.
            var target = externalKey.flatMap { byExternal[$0] }
            if target == nil, let k = emailKey, let owner = byEmail[k] {
                if externalKey != nil, owner.externalIdHash != nil {
                    reject(externalColumn, "the email belongs to a recipient with another external id")
                    continue
                }
                target = owner
            }
            if let target, let k = emailKey, let owner = byEmail[k], owner.id != target.id {
                reject(emailColumn, "the email belongs to another recipient")
                continue
            }
            if let target, let k = externalKey, let owner = byExternal[k], owner.id != target.id {
                reject(externalColumn, "the external id belongs to another recipient")
                continue
            }
            guard let current = target else {
                let id = EntityID.make()
                var record = RecipientRecord(
                    id: id, organizationId: org, siteId: site.id, needsAccessible: cells.accessible ?? false,
                    dataKey: try keys.envelope.newWrappedDataKey(subject: id, under: wrapping), contact: nil,
                    createdAt: at,
                    apartment: cells.apartment ?? nil, preferredLanguage: (cells.language ?? .en).rawValue)
                let contact = Contact(
                    name: cells.name, email: newEmail, phone: cells.phone ?? nil, externalId: newExternal)
                record.contact = try seal(contact, record)
                record.emailHash = emailKey
                record.externalIdHash = externalKey
                plan.creates.append((cells.row, record))
                plan.report.results.append(.init(row: cells.row, outcome: .created, recipientId: id))
                plan.report.created += 1
                continue
            }
            if let earlier = matched[current.id] {
                reject(nil, "the row names the same recipient as row \(earlier)")
                continue
            }
            matched[current.id] = cells.row
            guard current.siteId == site.id else {
                reject(
                    externalKey != nil && current.externalIdHash == externalKey ? externalColumn : emailColumn,
                    "the recipient belongs to another site")
                continue
            }
            var record = current
            var contact = try open(current)
            var fields: [String] = []
            func change<T: Equatable>(_ name: String, _ old: inout T, _ new: T?) {
                guard let new, new != old else { return }
                old = new
                fields.append(name)
            }
            change("name", &contact.name, cells.name)
            change("email", &contact.email, cells.email)
            change("phone", &contact.phone, cells.phone)
            change("externalId", &contact.externalId, cells.externalId)
            change("apartment", &record.apartment, cells.apartment)
            change("preferredLanguage", &record.preferredLanguage, cells.language?.rawValue)
            change("needsAccessible", &record.needsAccessible, cells.accessible)
            let reactivated = record.deactivatedAt != nil
            if reactivated { fields.append("active") }
            guard !fields.isEmpty else {
                plan.report.results.append(.init(row: cells.row, outcome: .unchanged, recipientId: current.id))
                plan.report.unchanged += 1
                continue
            }
            record.apartmentKey = record.apartment.map(RecipientRules.apartmentKey)
            record.contact = try seal(contact, record)
            record.emailHash = contact.email.map(emailHash)
            record.externalIdHash = contact.externalId.map { externalIdHash(organization: org, $0) }
            record.deactivatedAt = nil
            record.updatedAt = at
            plan.updates.append((cells.row, record, fields, reactivated))
            plan.report.results.append(
                .init(row: cells.row, outcome: .updated, recipientId: current.id, fields: fields))
            plan.report.updated += 1
        }
        if options.deactivateMissing {
            for r in existing where r.siteId == site.id && r.deactivatedAt == nil && matched[r.id] == nil {
                var record = r
                record.deactivatedAt = at
                record.updatedAt = at
                plan.deactivations.append(record)
                plan.report.deactivatedRecipients.append(r.id)
            }
            plan.report.deactivated = plan.deactivations.count
        }
        return plan
    }

    /// Writes a plan with no rejected rows, with one audit event per recipient and one for the import.
    func apply(_ s: StoreSession, _ plan: Plan, actor: Actor, site: SiteRecord) async throws {
        try await s.insertRecipients(plan.creates.map(\.record))
        for u in plan.updates { try await s.saveRecipient(u.record) }
        for d in plan.deactivations { try await s.saveRecipient(d) }
        var events: [AuditRecord] = plan.creates.map {
            auditRecord(.recipientCreated, actor, $0.record, ["row": String($0.row)])
        }
        for u in plan.updates {
            let changed = u.fields.filter { $0 != "active" }
            if !changed.isEmpty {
                events.append(
                    auditRecord(
                        .recipientUpdated, actor, u.record,
                        ["row": String(u.row), "fields": changed.joined(separator: ",")]))
            }
            if u.reactivated {
                events.append(auditRecord(.recipientReactivated, actor, u.record, ["row": String(u.row)]))
            }
        }
        events += plan.deactivations.map { auditRecord(.recipientDeactivated, actor, $0, ["import": "missing"]) }
        let r = plan.report
        events.append(
            AuditRecord(
                occurredAt: clock.now(), event: .recipientImportCompleted, actor: actor,
                organizationId: EntityID.uuid(site.organizationId), siteId: EntityID.uuid(site.id),
                detail: [
                    "rows": String(r.rows), "created": String(r.created), "updated": String(r.updated),
                    "unchanged": String(r.unchanged), "deactivated": String(r.deactivated),
                ]))
        var start = 0
        while start < events.count {
            let end = min(start + 500, events.count)
            try await s.appendAudit(Array(events[start..<end]))
            start = end
        }
    }
}
