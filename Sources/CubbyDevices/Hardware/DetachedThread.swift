#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Starts `body` on a new, detached operating-system thread, for loops that block in system calls and
/// must not hold one of the concurrency pool's few threads.
func startDetachedThread(_ body: @escaping @Sendable () -> Void) {
    final class Start {
        let body: @Sendable () -> Void
        init(body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let start = Unmanaged.passRetained(Start(body: body)).toOpaque()
    #if canImport(Darwin)
        var thread: pthread_t?
    #else
        var thread = pthread_t()
    #endif
    let result = pthread_create(
        &thread, nil,
        { raw in
            #if canImport(Darwin)
                let start = Unmanaged<Start>.fromOpaque(raw).takeRetainedValue()
            #else
                let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
            #endif
            start.body()
            return nil
        }, start)
    precondition(result == 0, "cannot start a thread: error \(result)")
    #if canImport(Darwin)
        pthread_detach(thread!)
    #else
        pthread_detach(thread)
    #endif
}
