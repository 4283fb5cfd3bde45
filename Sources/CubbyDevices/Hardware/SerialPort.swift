#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A serial device (an RS-485 adapter's tty, or one end of a pseudo-terminal pair) in raw, non-blocking mode.
///
/// Every call blocks the calling thread for at most the deadline given, so use it from a thread of its own,
/// never from Swift's cooperative pool. Not thread-safe: one owner at a time.
public final class SerialPort {
    /// The device path it was opened from.
    public let path: String
    private var descriptor: Int32
    private var readBuffer = [UInt8](repeating: 0, count: 256)

    /// Opens `path` read-write, without making it the controlling terminal, and sets raw 8N1 at `baudRate`.
    public init(path: String, baudRate: Int = 9600) throws(LockBusError) {
        guard let speed = Self.speed(for: baudRate) else {
            throw .device("serial port \(path): unsupported baud rate \(baudRate)")
        }
        let fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK)
        guard fd >= 0 else { throw Self.failure("cannot open serial port \(path)") }
        self.path = path
        self.descriptor = fd
        do {
            try configure(speed: speed)
        } catch {
            closeDescriptor(fd)
            descriptor = -1
            throw error
        }
    }

    deinit {
        if descriptor >= 0 { closeDescriptor(descriptor) }
    }

    /// Whether `close()` has not been called.

    /// The raw file descriptor, for `poll` alongside other descriptors.
    public var fileDescriptor: Int32 { descriptor }

    /// Closes the device. Further calls throw `.device`.
    public func close() {
        guard descriptor >= 0 else { return }
        closeDescriptor(descriptor)
        descriptor = -1
    }

    /// Writes every byte, waiting (up to one second) while the output buffer is full.
    public func write(_ bytes: [UInt8]) throws(LockBusError) {
        try ensureOpen()
        var written = 0
        let deadline = ContinuousClock.now + .seconds(1)
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { raw in
                systemWrite(descriptor, raw.baseAddress! + written, raw.count - written)
            }
            if result > 0 {
                written += result
                continue
            }
            let code = errno
            if result < 0, code == EINTR { continue }
            if result < 0, code != EAGAIN, code != EWOULDBLOCK {
                throw Self.failure("cannot write to serial port \(path)", code: code)
            }
            guard try waitUntilReady(events: Int16(POLLOUT), deadline: deadline) != 0 else {
                throw .device("serial port \(path): output stayed full for a second")
            }
        }
    }

    /// Waits until bytes arrive or `deadline` passes, then returns what could be read (empty on time-out).
    ///
    /// The bytes are passed to `body` without copying; they are valid only during the call.
    public func read<Value>(
        until deadline: ContinuousClock.Instant,
        _ body: (UnsafeBufferPointer<UInt8>) throws(LockBusError) -> Value
    ) throws(LockBusError) -> Value {
        try ensureOpen()
        while true {
            let count = readBuffer.withUnsafeMutableBytes { raw in
                systemRead(descriptor, raw.baseAddress!, raw.count)
            }
            if count > 0 {
                return try readBuffer.withUnsafeBufferPointer { all throws(LockBusError) in
                    try body(UnsafeBufferPointer(rebasing: all[0..<count]))
                }
            }
            let code = errno
            if count < 0, code == EINTR { continue }
            if count < 0, code != EAGAIN, code != EWOULDBLOCK, code != EIO {
                throw Self.failure("cannot read from serial port \(path)", code: code)
            }
            let ready = try waitUntilReady(events: Int16(POLLIN), deadline: deadline)
            if ready == 0 { return try body(UnsafeBufferPointer(start: nil, count: 0)) }
            if ready & Int16(POLLIN) == 0 {
                // Hang-up without data: the other end of a pseudo-terminal is closed. Wait for it quietly.
                usleep(2_000)
            }
        }
    }

    /// Reads into an array: convenience for tests and tools.
    public func read(until deadline: ContinuousClock.Instant) throws(LockBusError) -> [UInt8] {
        try read(until: deadline) { bytes throws(LockBusError) in Array(bytes) }
    }

    /// Drops every byte received and not yet read (a late or broken reply) before a request is resent.
    public func flushInput() throws(LockBusError) {
        try ensureOpen()
        guard tcflush(descriptor, TCIFLUSH) == 0 else {
            throw Self.failure("cannot flush serial port \(path)")
        }
    }

    /// Blocks until the descriptor reports one of `events` (or a hang-up), returning the reported events,
    /// or 0 at `deadline`.
    private func waitUntilReady(events: Int16, deadline: ContinuousClock.Instant) throws(LockBusError) -> Int16 {
        while true {
            let remaining = deadline - ContinuousClock.now
            if remaining <= .zero { return 0 }
            var entry = pollfd(fd: descriptor, events: events, revents: 0)
            let result = poll(&entry, 1, Int32(clamping: remaining.roundedUpMilliseconds))
            if result > 0 { return entry.revents }
            if result == 0 { continue }
            let code = errno
            if code == EINTR { continue }
            throw Self.failure("cannot poll serial port \(path)", code: code)
        }
    }

    private func configure(speed: speed_t) throws(LockBusError) {
        var settings = termios()
        guard tcgetattr(descriptor, &settings) == 0 else {
            throw Self.failure("serial port \(path) is not a terminal")
        }
        cfmakeraw(&settings)
        settings.c_cflag |= tcflag_t(CLOCAL | CREAD)
        settings.c_cflag &= ~tcflag_t(PARENB | CSTOPB | CSIZE)
        settings.c_cflag |= tcflag_t(CS8)
        withUnsafeMutableBytes(of: &settings.c_cc) { controlCharacters in
            controlCharacters[Int(VMIN)] = 0
            controlCharacters[Int(VTIME)] = 0
        }
        guard cfsetispeed(&settings, speed) == 0, cfsetospeed(&settings, speed) == 0 else {
            throw Self.failure("serial port \(path): cannot set the baud rate")
        }
        guard tcsetattr(descriptor, TCSANOW, &settings) == 0 else {
            throw Self.failure("cannot configure serial port \(path)")
        }
    }

    private func ensureOpen() throws(LockBusError) {
        if descriptor < 0 { throw .device("serial port \(path) is closed") }
    }

    private static func failure(_ what: String, code: Int32 = errno) -> LockBusError {
        .device("\(what): \(String(cString: strerror(code))) (errno \(code))")
    }

    /// The baud rates a serial port can be set to.
    public static let supportedBaudRates = [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200]

    /// The termios speed constant for a baud rate, nil when the platform has none.
    static func speed(for baudRate: Int) -> speed_t? {
        switch baudRate {
        case 1200: speed_t(B1200)
        case 2400: speed_t(B2400)
        case 4800: speed_t(B4800)
        case 9600: speed_t(B9600)
        case 19200: speed_t(B19200)
        case 38400: speed_t(B38400)
        case 57600: speed_t(B57600)
        case 115200: speed_t(B115200)
        default: nil
        }
    }
}

/// close(2), for types whose own `close` method hides the C function.
func closeDescriptor(_ fd: Int32) {
    _ = close(fd)
}

private func systemWrite(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, bytes, count)
}

private func systemRead(_ fd: Int32, _ bytes: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(fd, bytes, count)
}

extension Duration {
    /// Whole milliseconds, rounded up, so a poll never wakes before its deadline.
    var roundedUpMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        let millis = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        return attoseconds % 1_000_000_000_000_000 > 0 ? millis + 1 : millis
    }
}
