import Foundation

/// The real servers `deploy/test.sh` starts for the tests, found through environment variables.
/// Tests that need one use `TestServers.s3Enabled` as their condition, so a local
/// `swift test` without servers shows them as skipped, while under `CI=true` they run and
/// `requireS3()` fails loudly instead of skipping.
package enum TestServers {
    package static let s3Variable = "CASSNAP_TEST_S3_ENDPOINT"
    package static let gcsVariable = "CASSNAP_TEST_GCS_ENDPOINT"

    package static let s3AuthVariable = "CASSNAP_TEST_S3_AUTH_ENDPOINT"
    package static let rcloneVariable = "CASSNAP_TEST_RCLONE_S3_ENDPOINT"

    /// moto with authentication enforced (any key we send is unknown to it).
    package static var s3AuthEndpoint: String? { value(s3AuthVariable) }
    /// `rclone serve s3`, which checks SigV4 signatures, with its access and secret key.
    package static var rcloneS3: (endpoint: String, accessKey: String, secretKey: String)? {
        guard let e = value(rcloneVariable), let a = value("CASSNAP_TEST_RCLONE_ACCESS_KEY"),
            let s = value("CASSNAP_TEST_RCLONE_SECRET_KEY")
        else { return nil }
        return (e, a, s)
    }

    package static func requireS3Auth() throws -> String {
        guard let url = s3AuthEndpoint else {
            throw MissingServer(variable: s3AuthVariable, server: "moto_server with auth")
        }
        return url
    }

    package static func requireRcloneS3() throws -> (endpoint: String, accessKey: String, secretKey: String) {
        guard let r = rcloneS3 else {
            throw MissingServer(variable: rcloneVariable, server: "rclone serve s3")
        }
        return r
    }

    package static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    package static var s3Endpoint: String? { value(s3Variable) }
    package static var gcsEndpoint: String? { value(gcsVariable) }

    package static var s3Enabled: Bool { s3Endpoint != nil || isCI }
    package static var gcsEnabled: Bool { gcsEndpoint != nil || isCI }

    package static let motoServerVariable = "CASSNAP_TEST_MOTO_SERVER"

    /// The moto_server executable, for tests that start their own (inside a network namespace).
    package static func requireMotoServer() throws -> String {
        guard let path = value(motoServerVariable) else {
            throw MissingServer(variable: motoServerVariable, server: "moto_server (the executable)")
        }
        return path
    }

    package static func requireS3() throws -> String {
        guard let url = s3Endpoint else {
            throw MissingServer(variable: s3Variable, server: "moto_server (S3)")
        }
        return url
    }

    package static func requireGCS() throws -> String {
        guard let url = gcsEndpoint else {
            throw MissingServer(variable: gcsVariable, server: "fake-gcs-server (GCS)")
        }
        return url
    }

    private static func value(_ name: String) -> String? {
        guard let v = ProcessInfo.processInfo.environment[name], !v.isEmpty else { return nil }
        return v
    }

    package struct MissingServer: Error, CustomStringConvertible {
        package let variable: String
        package let server: String
        package init(variable: String, server: String) {
            self.variable = variable
            self.server = server
        }
        package var description: String {
            "\(variable) is not set, but CI=true forbids skipping: start \(server) with `make test`"
        }
    }
}
