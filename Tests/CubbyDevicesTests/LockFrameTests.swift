import CubbyDevices
import Testing

@Suite("Lock frame codec")
struct LockFrameTests {
    /// The worked examples of docs/hardware.md, byte for byte.
    static let documentedFrames: [(LockFrame, [UInt8])] = [
        (.request(.unlock(LockAddress(board: 1, channel: 5))), [0x02, 0x01, 0x31, 0x05, 0x03, 0x34]),
        (
            .reply(LockReply(board: 1, command: .unlock, channel: 5, status: .ok)),
            [0x02, 0x01, 0xB1, 0x05, 0x06, 0x00, 0x00, 0x03, 0xB2]
        ),
        (.request(.readLocks(board: 2)), [0x02, 0x02, 0x32, 0x00, 0x03, 0x31]),
        (
            .reply(LockReply(board: 2, command: .readLocks, channel: 0, status: .ok, data: 0x7FFB)),
            [0x02, 0x02, 0xB2, 0x00, 0x06, 0x7F, 0xFB, 0x03, 0x33]
        ),
        (.request(.readItems(board: 0)), [0x02, 0x00, 0x33, 0x00, 0x03, 0x32]),
        (
            .reply(LockReply(board: 0, command: .readItems, channel: 0, status: .ok, data: 0x0103)),
            [0x02, 0x00, 0xB3, 0x00, 0x06, 0x01, 0x03, 0x03, 0xB6]
        ),
        (.request(.lockAll(board: 3)), [0x02, 0x03, 0x34, 0x00, 0x03, 0x36]),
        (
            .reply(LockReply(board: 3, command: .lockAll, channel: 0, status: .ok)),
            [0x02, 0x03, 0xB4, 0x00, 0x06, 0x00, 0x00, 0x03, 0xB0]
        ),
        (
            .reply(LockReply(board: 1, command: .unlock, channel: 5, status: .refused)),
            [0x02, 0x01, 0xB1, 0x05, 0x15, 0x00, 0x00, 0x03, 0xA1]
        ),
    ]

    @Test("documented examples encode to their bytes and decode back", arguments: 0..<documentedFrames.count)
    func documentedExample(index: Int) {
        let (frame, bytes) = Self.documentedFrames[index]
        #expect(frame.bytes == bytes)
        #expect(decodeAll(bytes) == [.frame(frame)])
    }

    @Test("every request round-trips", arguments: LockCommand.allCases, [UInt8(0), 1, 2, 3])
    func requestRoundTrip(command: LockCommand, board: UInt8) {
        let request = LockRequest(board: board, command: command, channel: command.addressesChannel ? 16 : 0)
        let bytes = request.bytes
        #expect(bytes.count == LockRequest.byteCount)
        #expect(bytes.first == LockFrame.startByte)
        #expect(bytes[4] == LockFrame.endByte)
        #expect(decodeAll(bytes) == [.frame(.request(request))])
    }

    @Test("every reply round-trips", arguments: LockCommand.allCases, LockReplyStatus.allCases)
    func replyRoundTrip(command: LockCommand, status: LockReplyStatus) {
        let reply = LockReply(board: 2, command: command, channel: 7, status: status, data: 0xA55A)
        let bytes = reply.bytes
        #expect(bytes.count == LockReply.byteCount)
        #expect(bytes[2] == command.rawValue | 0x80)
        #expect(decodeAll(bytes) == [.frame(.reply(reply))])
    }

    @Test("bitmaps map channel 1 to bit 0 and channel 16 to bit 15")
    func bitmaps() {
        var flags = [Bool](repeating: false, count: 16)
        flags[0] = true
        flags[15] = true
        #expect(LockFrame.bitmap(from: flags) == 0x8001)
        #expect(LockFrame.flags(from: 0x8001) == flags)
        #expect(LockFrame.flags(from: 0x0004) == (1...16).map { $0 == 3 })
        for value: UInt16 in [0, 1, 0x7FFB, 0xFFFF, 0x1234] {
            #expect(LockFrame.bitmap(from: LockFrame.flags(from: value)) == value)
        }
    }

    @Test("a reply answers only its own request")
    func replyMatching() {
        let request = LockRequest.unlock(LockAddress(board: 1, channel: 5))
        #expect(LockReply(answering: request, status: .ok).answers(request))
        #expect(!LockReply(board: 2, command: .unlock, channel: 5, status: .ok).answers(request))
        #expect(!LockReply(board: 1, command: .readLocks, channel: 5, status: .ok).answers(request))
        #expect(!LockReply(board: 1, command: .unlock, channel: 6, status: .ok).answers(request))
    }

    @Test("a bad checksum is rejected")
    func badChecksum() {
        var bytes = LockRequest.readLocks(board: 1).bytes
        bytes[5] ^= 0xFF
        #expect(
            decodeAll(bytes) == [
                .rejected(.badChecksum(expected: 0x32, found: 0xCD)),
                .rejected(.noise(byteCount: 5)),
            ])
    }

    @Test("a bad end byte is rejected")
    func badEndByte() {
        var bytes = LockReply(board: 0, command: .readItems, channel: 0, status: .ok, data: 0).bytes
        bytes[7] = 0x04
        let outputs = decodeAll(bytes)
        #expect(outputs.first == .rejected(.badEndByte(0x04)))
        #expect(!outputs.contains { if case .frame = $0 { true } else { false } })
    }

    @Test("an unknown command byte or status byte is rejected")
    func unknownBytes() {
        #expect(decodeAll([0x02, 0x01, 0x45, 0x01, 0x03, 0x46]).first == .rejected(.unknownCommand(0x45)))
        #expect(decodeAll([0x02, 0x01, 0xC5, 0x01, 0x03, 0xC6]).first == .rejected(.unknownCommand(0xC5)))

        var reply: [UInt8] = [0x02, 0x01, 0xB1, 0x05, 0x07, 0x00, 0x00, 0x03]
        reply.append(LockFrame.checksum(reply))
        #expect(decodeAll(reply).first == .rejected(.unknownStatus(0x07)))
    }

    @Test(
        "a truncated frame yields nothing until its bytes arrive, and a truncated frame followed by a good one yields the good one"
    )
    func truncated() {
        let reply = LockReply(board: 1, command: .readLocks, channel: 0, status: .ok, data: 0xFFFF)
        var decoder = LockFrameDecoder()
        decoder.append(contentsOf: reply.bytes.prefix(5))
        #expect(decoder.next() == nil)
        #expect(decoder.bufferedByteCount == 5)
        decoder.append(contentsOf: reply.bytes.dropFirst(5))
        #expect(decoder.next() == .frame(.reply(reply)))
        #expect(decoder.next() == nil)

        let cut = Array(reply.bytes.prefix(5))
        let outputs = decodeAll(cut + reply.bytes)
        #expect(outputs.first == .rejected(.badEndByte(0xB2)))
        #expect(outputs.last == .frame(.reply(reply)))
        #expect(outputs.filter(isFrame).count == 1)
    }

    @Test("noise before a frame is skipped, even noise holding start bytes")
    func noiseBeforeFrame() {
        let request = LockRequest.unlock(LockAddress(board: 3, channel: 12))
        #expect(
            decodeAll([0xFF, 0x00, 0x55] + request.bytes) == [
                .rejected(.noise(byteCount: 3)),
                .frame(.request(request)),
            ])

        let outputs = decodeAll([0x02, 0x02, 0x02, 0x31, 0x99] + request.bytes)
        #expect(outputs.last == .frame(.request(request)))
        #expect(outputs.filter(isFrame).count == 1)
    }

    @Test("two frames in one read are both decoded, in order")
    func twoFramesInOneRead() {
        let first = LockReply(board: 0, command: .readLocks, channel: 0, status: .ok, data: 0x00FF)
        let second = LockReply(board: 0, command: .readItems, channel: 0, status: .ok, data: 0xFF00)
        #expect(decodeAll(first.bytes + second.bytes) == [.frame(.reply(first)), .frame(.reply(second))])
    }

    @Test("frames arriving a byte at a time are decoded")
    func byteByByte() {
        let frames: [LockFrame] = [
            .request(.lockAll(board: 1)),
            .reply(LockReply(board: 1, command: .lockAll, channel: 0, status: .ok)),
        ]
        var decoder = LockFrameDecoder()
        var decoded: [LockFrameDecoder.Output] = []
        for byte in frames.flatMap(\.bytes) {
            decoder.append(contentsOf: [byte])
            while let output = decoder.next() { decoded.append(output) }
        }
        #expect(decoded == frames.map { .frame($0) })
    }

    @Test("reset forgets buffered bytes")
    func reset() {
        var decoder = LockFrameDecoder()
        decoder.append(contentsOf: LockRequest.readItems(board: 1).bytes.prefix(4))
        decoder.reset()
        decoder.append(contentsOf: LockRequest.readLocks(board: 2).bytes)
        #expect(decoder.next() == .frame(.request(.readLocks(board: 2))))
        #expect(decoder.bufferedByteCount == 0)
    }

    @Test("a long stream of noise and frames keeps its buffer small and finds every frame")
    func longStream() {
        var decoder = LockFrameDecoder()
        var found = 0
        for index in 0..<500 {
            decoder.append(contentsOf: [0xAA, 0x02, 0x00])
            decoder.append(contentsOf: LockRequest.readLocks(board: UInt8(index % 4)).bytes)
            while let output = decoder.next() {
                if case .frame(.request(let request)) = output, request.board == UInt8(index % 4) { found += 1 }
            }
        }
        #expect(found == 500)
        #expect(decoder.bufferedByteCount == 0)
    }

    private func decodeAll(_ bytes: [UInt8]) -> [LockFrameDecoder.Output] {
        var decoder = LockFrameDecoder()
        decoder.append(contentsOf: bytes)
        var outputs: [LockFrameDecoder.Output] = []
        while let output = decoder.next() { outputs.append(output) }
        return outputs
    }

    private func isFrame(_ output: LockFrameDecoder.Output) -> Bool {
        if case .frame = output { true } else { false }
    }
}
