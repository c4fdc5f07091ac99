#if canImport(Glibc)
    import Glibc
#endif

/// glibc malloc knobs for a long-running agent that idles most of the time. glibc keeps up to
/// 8 arenas per core and never gives freed heap pages back on its own, so a storm of 32,000
/// events leaves the agent's RSS at its peak for good. `mallopt` and `malloc_trim` are not in
/// Swift's Glibc module, so they are looked up at run time; on other C libraries nothing
/// happens.
enum MallocTuning {
    private typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
    private typealias MallocTrim = @convention(c) (Int) -> Int32

    /// `M_ARENA_MAX` from glibc's malloc.h.
    private static let arenaMaxParameter: Int32 = -8

    /// At most `arenas` malloc arenas (an explicit `MALLOC_ARENA_MAX` in the environment wins).
    /// Call before the agent starts its threads: threads that already have an arena keep it.
    static func limitArenas(to arenas: Int32 = 2) {
        #if canImport(Glibc)
            guard getenv("MALLOC_ARENA_MAX") == nil,
                let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt")
            else { return }
            _ = unsafeBitCast(symbol, to: Mallopt.self)(arenaMaxParameter, arenas)
        #endif
    }

    /// Gives free heap pages of every arena back to the kernel (after a storm has drained).
    static func releaseFreeMemory() {
        #if canImport(Glibc)
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return }
            _ = unsafeBitCast(symbol, to: MallocTrim.self)(0)
        #endif
    }
}
