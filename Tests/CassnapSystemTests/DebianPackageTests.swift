import CassnapTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 11: `make deb` (deploy/deb.sh). The packages are built from the test binaries (the
/// layout is what is tested; `make deb` packages the static release ones), inspected with
/// dpkg-deb, installed into a scratch root whose maintainer scripts run with DPKG_ROOT, and
/// their units checked with systemd-analyze verify.
@Suite(.serialized) struct DebianPackageTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static var isRoot: Bool { getuid() == 0 }

    static func run(_ tool: String, _ arguments: [String], environment: [String: String]? = nil) throws
        -> Subprocess.Result
    {
        try Subprocess.run(URL(fileURLWithPath: "/usr/bin/env"), [tool] + arguments, environment: environment)
    }

    @Test(.enabled(if: isRoot, "installs into a scratch root as root (useradd --root, chown): run as root"))
    func thePackagesHoldTheFilesModesUserAndUnitsAnOperatorNeeds() throws {
        try TemporaryDirectory.with { dir in
            let binaries = try TestBinaries.url(for: "cassnap").deletingLastPathComponent()
            let out = dir.appendingPathComponent("debs")
            var environment = ProcessInfo.processInfo.environment
            environment["BIN_DIR"] = binaries.path
            environment["OUT_DIR"] = out.path
            environment["DEB_COMPRESSION"] = "none"
            let built = try Subprocess.run(
                Self.repositoryRoot.appendingPathComponent("deploy/deb.sh"), [], environment: environment)
            #expect(built.exitCode == 0, "\(built.standardError)")
            let debs = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
            #expect(
                debs.count == 2 && debs[0].hasPrefix("cassnap-agent_")
                    && debs[1].hasPrefix("cassnap-coordinator_"))
            let agent = out.appendingPathComponent(debs[0]).path
            let coordinator = out.appendingPathComponent(debs[1]).path

            let info = try Self.run("dpkg-deb", ["-I", agent]).standardOutput
            #expect(
                info.contains("Package: cassnap-agent") && info.contains("Depends: libc6, libcurl4, libssl3"))
            #expect(try Self.run("dpkg-deb", ["-f", agent, "Version"]).standardOutput.contains("~dev"))
            let agentFiles = try Self.run("dpkg-deb", ["-c", agent]).standardOutput
            for (mode, path) in [
                ("-rwxr-xr-x", "./usr/bin/cassnap-agent"), ("-rw-r-----", "./etc/cassnap/agent.yaml"),
                ("-rw-r--r--", "./lib/systemd/system/cassnap-agent.service"),
            ] {
                #expect(
                    agentFiles.split(separator: "\n").contains { $0.hasPrefix(mode) && $0.hasSuffix(path) },
                    "\(path) \(mode): \(agentFiles)")
            }
            let coordinatorFiles = try Self.run("dpkg-deb", ["-c", coordinator]).standardOutput
            #expect(coordinatorFiles.contains("./usr/bin/cassnap-coordinator"))
            #expect(coordinatorFiles.contains("./usr/bin/cassnap\n"))
            let control = dir.appendingPathComponent("control")
            _ = try Self.run("dpkg-deb", ["-e", agent, control.path])
            #expect(
                try String(contentsOf: control.appendingPathComponent("conffiles"), encoding: .utf8)
                    == "/etc/cassnap/agent.yaml\n")

            // A scratch root with a cassandra group, as on a node.
            let root = dir.appendingPathComponent("root")
            try FileManager.default.createDirectory(
                at: root.appendingPathComponent("etc"), withIntermediateDirectories: true)
            for (file, text) in [
                ("passwd", "root:x:0:0:root:/root:/bin/bash\n"), ("group", "root:x:0:\ncassandra:x:998:\n"),
                ("shadow", "root:*:19000:0:99999:7:::\n"), ("gshadow", "root:*::\ncassandra:!::\n"),
            ] {
                try text.write(
                    to: root.appendingPathComponent("etc/\(file)"), atomically: true, encoding: .utf8)
            }
            for (deb, name) in [(agent, "agent"), (coordinator, "coordinator")] {
                #expect(try Self.run("dpkg-deb", ["-x", deb, root.path]).exitCode == 0)
                let scripts = dir.appendingPathComponent("control-\(name)")
                _ = try Self.run("dpkg-deb", ["-e", deb, scripts.path])
                var env = ProcessInfo.processInfo.environment
                env["DPKG_ROOT"] = root.path
                let postinst = try Subprocess.run(
                    URL(fileURLWithPath: "/bin/sh"), [scripts.appendingPathComponent("postinst").path],
                    environment: env)
                #expect(postinst.exitCode == 0, "\(name) postinst: \(postinst.standardError)")
            }
            // Both packages create the user if missing: one user.
            let passwd = try String(contentsOf: root.appendingPathComponent("etc/passwd"), encoding: .utf8)
            let users = passwd.split(separator: "\n").filter { $0.hasPrefix("cassnap:") }
            #expect(users.count == 1 && users[0].hasSuffix(":/usr/sbin/nologin"), "\(passwd)")
            let uid = Int(users[0].split(separator: ":")[2])!
            let group = try String(contentsOf: root.appendingPathComponent("etc/group"), encoding: .utf8)
            #expect(
                group.contains("cassandra:x:998:cassnap"),
                "the agent's user reads Cassandra's files: \(group)")
            func mode(_ path: String) -> (mode: mode_t, uid: uid_t) {
                var st = stat()
                stat(root.appendingPathComponent(path).path, &st)
                return (st.st_mode & 0o7777, st.st_uid)
            }
            #expect(mode("var/lib/cassnap-agent") == (0o700, uid_t(uid)))
            #expect(mode("var/lib/cassnap") == (0o750, uid_t(uid)))
            #expect(mode("etc/cassnap").mode == 0o750)
            #expect(mode("etc/cassnap/agent.yaml") == (0o640, 0))
            #expect(mode("etc/cassnap/coordinator.yaml") == (0o640, 0))

            // The units, with ExecStart pointed at the extracted binaries.
            for unit in ["cassnap-agent.service", "cassnap-coordinator.service"] {
                let text = try String(
                    contentsOf: root.appendingPathComponent("lib/systemd/system/\(unit)"), encoding: .utf8)
                #expect(text.contains("NoNewPrivileges=true") && text.contains("ProtectSystem=strict"))
                #expect(text.contains("UMask=0027"))
                let checked = dir.appendingPathComponent("units/\(unit)")
                try FileManager.default.createDirectory(
                    at: checked.deletingLastPathComponent(), withIntermediateDirectories: true)
                try text.replacingOccurrences(
                    of: "ExecStart=/usr/bin/", with: "ExecStart=\(root.path)/usr/bin/"
                )
                .write(to: checked, atomically: true, encoding: .utf8)
                let verify = try Self.run("systemd-analyze", ["verify", checked.path])
                #expect(verify.exitCode == 0, "\(unit): \(verify.standardOutput)\(verify.standardError)")
            }
        }
    }
}
