import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A star of network namespaces that a test makes and removes: one hub (the coordinator and the
/// S3 server live there) and one namespace per node, each joined to the hub by a veth pair.
/// Node `n` is `10.213.n.2`, and the hub is `10.213.n.1` on that link. Every address lives only
/// inside these namespaces and is reached only from inside them (`ip netns exec`); nothing is
/// routed from or to the root namespace. `cut(n)` takes node n's link down on the hub side: its
/// packets are dropped silently, as behind a failed switch, not refused.
package final class NetworkNamespaces: @unchecked Sendable {
    package struct Failed: Error, CustomStringConvertible {
        package var command: [String]
        package var output: String
        package var description: String { "`\(command.joined(separator: " "))` failed: \(output)" }
    }

    /// Whether this process can make namespaces (root with `ip`); tests use it as their condition.
    package static var available: Bool { geteuid() == 0 && FileManager.default.isExecutableFile(atPath: ip) }

    static let ip =
        ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        } ?? "/usr/sbin/ip"

    package let hub: String
    package let nodeCount: Int
    private let tag: String
    private var created: [String] = []

    /// Makes the hub and `nodes` node namespaces with their links; throws (after removing what it
    /// made) naming the `ip` command that failed.
    package init(nodes: Int) throws {
        precondition((1...250).contains(nodes))
        tag = "cn\(getpid() % 100_000)\(UInt16.random(in: 0...UInt16.max) % 1000)"
        hub = "\(tag)-hub"
        nodeCount = nodes
        do {
            try add(hub)
            for n in 1...nodes {
                let namespace = node(n)
                try add(namespace)
                let hubSide = "\(tag)h\(n)"  // interface names are at most 15 bytes
                try Self.run([
                    "link", "add", hubSide, "netns", hub, "type", "veth", "peer", "name", "eth0", "netns",
                    namespace,
                ])
                try exec(hub, [Self.ip, "addr", "add", "\(hubAddress(n))/24", "dev", hubSide])
                try exec(hub, [Self.ip, "link", "set", hubSide, "up"])
                try exec(namespace, [Self.ip, "addr", "add", "\(nodeAddress(n))/24", "dev", "eth0"])
                try exec(namespace, [Self.ip, "link", "set", "eth0", "up"])
            }
        } catch {
            remove()
            throw error
        }
    }

    package func node(_ n: Int) -> String { "\(tag)-n\(n)" }
    package func hubAddress(_ n: Int) -> String { "10.213.\(n).1" }
    package func nodeAddress(_ n: Int) -> String { "10.213.\(n).2" }

    /// `command` run inside `namespace`, as the argument list for a `Process` of `ip`.
    package func wrap(_ namespace: String, _ command: [String]) -> (URL, [String]) {
        (URL(fileURLWithPath: Self.ip), ["netns", "exec", namespace] + command)
    }

    /// Cuts node n off: the hub side of its link goes down, so nothing it sends arrives.
    package func cut(_ n: Int) throws { try exec(hub, [Self.ip, "link", "set", "\(tag)h\(n)", "down"]) }

    /// Joins node n again.
    package func heal(_ n: Int) throws { try exec(hub, [Self.ip, "link", "set", "\(tag)h\(n)", "up"]) }

    /// Removes every namespace (and with them their links). Processes still inside keep running,
    /// so stop them first.
    package func remove() {
        for namespace in created.reversed() { _ = try? Self.run(["netns", "del", namespace]) }
        created = []
    }

    deinit { remove() }

    private func add(_ namespace: String) throws {
        try Self.run(["netns", "add", namespace])
        created.append(namespace)
        try exec(namespace, [Self.ip, "link", "set", "lo", "up"])
    }

    @discardableResult
    package func exec(_ namespace: String, _ command: [String]) throws -> String {
        try Self.run(["netns", "exec", namespace] + command)
    }

    @discardableResult
    private static func run(_ arguments: [String]) throws -> String {
        let result = try Subprocess.run(URL(fileURLWithPath: ip), arguments)
        guard result.exitCode == 0 else {
            throw Failed(command: ["ip"] + arguments, output: result.standardError + result.standardOutput)
        }
        return result.standardOutput
    }
}
