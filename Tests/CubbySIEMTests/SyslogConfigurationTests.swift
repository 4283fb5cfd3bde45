import Testing

@testable import CubbySIEM

@Suite("CUBBY_SYSLOG_URL")
struct SyslogConfigurationTests {
    @Test(
        "accepted URLs, with their default ports and formats",
        arguments: [
            (
                "tls://siem.example?format=cef", SyslogConfiguration.Transport.tls, "siem.example", 6514,
                SyslogConfiguration.Format.cef
            ),
            ("tls://siem.example:7514", .tls, "siem.example", 7514, .ocsf),
            ("tcp://127.0.0.1?format=OCSF", .tcp, "127.0.0.1", 601, .ocsf),
            ("udp://[::1]:1514", .udp, "::1", 1514, .ocsf),
        ])
    func accepted(
        url: String, transport: SyslogConfiguration.Transport, host: String, port: Int,
        format: SyslogConfiguration.Format
    ) throws {
        let c = try SyslogConfiguration(url: url)
        #expect(c.transport == transport)
        #expect(c.host == host)
        #expect(c.port == port)
        #expect(c.format == format)
    }

    @Test(
        "refused URLs",
        arguments: [
            "http://siem.example", "siem.example:6514", "tls://", "tls://u:p@siem.example", "tls://siem.example/x",
            "tls://siem.example?format=leef", "tls://siem.example?tls=none", "tcp://siem.example:0",
        ])
    func refused(url: String) {
        #expect(throws: SyslogError.self) { try SyslogConfiguration(url: url) }
    }

    @Test("a CA file only with tls://, and not without a URL")
    func caFile() throws {
        #expect(throws: SyslogError.self) { try SyslogConfiguration(url: "tcp://h", caFile: "/ca.pem") }
        #expect(try SyslogConfiguration(url: "tls://h", caFile: "/ca.pem").caFile == "/ca.pem")
        #expect(throws: SyslogError.self) {
            try SyslogConfiguration.fromEnvironment(["CUBBY_SYSLOG_CA_FILE": "/ca.pem"])
        }
        #expect(try SyslogConfiguration.fromEnvironment([:]) == nil)
        #expect(try SyslogConfiguration.fromEnvironment(["CUBBY_SYSLOG_URL": "udp://h"])?.transport == .udp)
    }
}
