import CassnapTestSupport
import Foundation
import Synchronization
import Testing

@testable import CassnapS3

/// A scratch HOME with `.aws/credentials` and `.aws/config`, removed afterwards.
struct TemporaryHome {
    let path: String

    init(credentials: String? = nil, config: String? = nil) throws {
        path = NSTemporaryDirectory() + "cassnap-s3-home-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path + "/.aws", withIntermediateDirectories: true)
        if let credentials {
            try credentials.write(toFile: path + "/.aws/credentials", atomically: true, encoding: .utf8)
        }
        if let config { try config.write(toFile: path + "/.aws/config", atomically: true, encoding: .utf8) }
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Counts calls and answers from a list, for caching tests.
final class ScriptedProvider: AWSCredentialsProvider {
    let name = "scripted"
    private let answers: Mutex<[Result<AWSCredentials, AWSCredentialsError>]>
    private let count = Atomic<Int>(0)
    var calls: Int { count.load(ordering: .relaxed) }

    init(_ answers: [Result<AWSCredentials, AWSCredentialsError>]) { self.answers = Mutex(answers) }

    func credentials() async throws -> AWSCredentials {
        count.add(1, ordering: .relaxed)
        let next = answers.withLock { $0.count > 1 ? $0.removeFirst() : $0[0] }
        return try next.get()
    }
}

@Suite struct AWSCredentialsTests {
    static let credentialsFile = """
        # comment
        [default]
        aws_access_key_id = AKIDDEFAULT
        aws_secret_access_key = secretdefault

        [prod]
        aws_access_key_id=AKIDPROD
        aws_secret_access_key=secretprod ; inline comment
        aws_session_token = tokenprod
        """
    static let configFile = """
        [default]
        region = eu-west-3

        [profile staging]
        region = ap-south-1
        aws_access_key_id = AKIDSTAGING
        aws_secret_access_key = secretstaging
        s3 =
          addressing_style = path

        [sso-session corp]
        sso_region = us-east-1
        """

    @Test func environmentVariables() async throws {
        let provider = EnvironmentCredentialsProvider(environment: [
            "AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "secretenv",
            "AWS_SESSION_TOKEN": "tokenenv",
        ])
        let credentials = try await provider.credentials()
        #expect(credentials.accessKeyId == "AKIDENV")
        #expect(credentials.secretAccessKey == "secretenv")
        #expect(credentials.sessionToken == "tokenenv")

        await #expect(throws: AWSCredentialsError.self) {
            try await EnvironmentCredentialsProvider(environment: ["AWS_ACCESS_KEY_ID": "AKIDENV"])
                .credentials()
        }
    }

    @Test func profilesFromCredentialsAndConfigFiles() async throws {
        let home = try TemporaryHome(credentials: Self.credentialsFile, config: Self.configFile)
        defer { home.remove() }
        let fromDefault = try await ProfileCredentialsProvider(environment: ["HOME": home.path]).credentials()
        #expect(fromDefault.accessKeyId == "AKIDDEFAULT" && fromDefault.secretAccessKey == "secretdefault")
        #expect(fromDefault.sessionToken == nil)

        let prod = try await ProfileCredentialsProvider(environment: [
            "HOME": home.path, "AWS_PROFILE": "prod",
        ]).credentials()
        #expect(
            prod.accessKeyId == "AKIDPROD" && prod.secretAccessKey == "secretprod"
                && prod.sessionToken == "tokenprod")

        // Keys in `[profile staging]` of the config file count too.
        let staging = try await ProfileCredentialsProvider(environment: [
            "HOME": home.path, "AWS_PROFILE": "staging",
        ])
        .credentials()
        #expect(staging.accessKeyId == "AKIDSTAGING")

        #expect(AWSSharedFiles(environment: ["HOME": home.path]).region() == "eu-west-3")
        #expect(
            AWSSharedFiles(environment: ["HOME": home.path, "AWS_PROFILE": "staging"]).region()
                == "ap-south-1")

        let missing = ProfileCredentialsProvider(environment: ["HOME": home.path, "AWS_PROFILE": "nope"])
        await #expect {
            try await missing.credentials()
        } throws: { error in
            guard case .notConfigured = error as? AWSCredentialsError else { return false }
            return true
        }
    }

    @Test func fileLocationsFromEnvironment() async throws {
        let home = try TemporaryHome()
        defer { home.remove() }
        let credentialsPath = home.path + "/elsewhere-credentials"
        let configPath = home.path + "/elsewhere-config"
        try "[team]\naws_access_key_id = AKIDTEAM\naws_secret_access_key = s\n".write(
            toFile: credentialsPath, atomically: true, encoding: .utf8)
        try "[profile team]\nregion = sa-east-1\n".write(
            toFile: configPath, atomically: true, encoding: .utf8)
        let environment = [
            "HOME": "/nonexistent", "AWS_PROFILE": "team", "AWS_SHARED_CREDENTIALS_FILE": credentialsPath,
            "AWS_CONFIG_FILE": configPath,
        ]
        #expect(
            try await ProfileCredentialsProvider(environment: environment).credentials().accessKeyId
                == "AKIDTEAM")
        #expect(AWSSharedFiles(environment: environment).region() == "sa-east-1")
    }

    @Test func chainOrderEnvironmentBeforeFiles() async throws {
        let home = try TemporaryHome(credentials: Self.credentialsFile)
        defer { home.remove() }
        let environment = [
            "HOME": home.path, "AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "secretenv",
            "AWS_EC2_METADATA_DISABLED": "true",
        ]
        #expect(
            try await AWSCredentialsChain.standard(environment: environment).credentials().accessKeyId
                == "AKIDENV")

        var withoutEnv = environment
        withoutEnv["AWS_ACCESS_KEY_ID"] = nil
        withoutEnv["AWS_SECRET_ACCESS_KEY"] = nil
        #expect(
            try await AWSCredentialsChain.standard(environment: withoutEnv).credentials().accessKeyId
                == "AKIDDEFAULT")

        let fixed = StaticCredentialsProvider(accessKeyId: "AKIDSTATIC", secretAccessKey: "s")
        #expect(
            try await AWSCredentialsChain.standard(environment: environment, staticCredentials: fixed)
                .credentials()
                .accessKeyId == "AKIDSTATIC")
    }

    @Test func emptyChainSaysWhatItTriedWithoutSecrets() async throws {
        let home = try TemporaryHome()
        defer { home.remove() }
        let chain = AWSCredentialsChain.standard(environment: [
            "HOME": home.path, "AWS_EC2_METADATA_DISABLED": "true",
        ])
        do {
            _ = try await chain.credentials()
            Issue.record("expected no credentials")
        } catch let error as AWSCredentialsError {
            guard case .noCredentials(let tried) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(tried.count == 4)
            #expect(error.description.contains("AWS_ACCESS_KEY_ID"))
            #expect(error.description.contains("AWS_EC2_METADATA_DISABLED"))
        }
    }

    @Test func temporaryCredentialsAreCachedAndRefreshedBeforeExpiry() async throws {
        let soon = AWSCredentials(
            accessKeyId: "A1", secretAccessKey: "s", expiration: Date().addingTimeInterval(120))
        let later = AWSCredentials(
            accessKeyId: "A2", secretAccessKey: "s", expiration: Date().addingTimeInterval(3600))
        let scripted = ScriptedProvider([.success(soon), .success(later)])
        let chain = AWSCredentialsChain(providers: [scripted], refreshMargin: 300)
        // Expires within the 5-minute margin: every call refreshes until fresh ones arrive.
        #expect(try await chain.credentials().accessKeyId == "A1")
        #expect(try await chain.credentials().accessKeyId == "A2")
        #expect(try await chain.credentials().accessKeyId == "A2")
        #expect(scripted.calls == 2)

        // Parallel callers share one refresh.
        let fresh = ScriptedProvider([.success(later)])
        let shared = AWSCredentialsChain(providers: [fresh])
        try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<16 { group.addTask { try await shared.credentials().accessKeyId } }
            for try await id in group { #expect(id == "A2") }
        }
        #expect(fresh.calls == 1)
    }

    @Test func containerCredentialsRelativeURI() async throws {
        let server = try StubHTTPServer { request in
            guard request.path == "/v2/credentials/abc" else { return .init(status: 404, body: "") }
            return .init(
                status: 200,
                body: """
                    {"AccessKeyId":"ASIACONTAINER","SecretAccessKey":"secretcontainer","Token":"tokencontainer",
                     "Expiration":"\(Self.iso(Date().addingTimeInterval(3600)))","RoleArn":"arn:aws:iam::1:role/x"}
                    """)
        }
        defer { server.stop() }
        let provider = ContainerCredentialsProvider(
            environment: ["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc"],
            relativeHost: "127.0.0.1:\(server.port)")
        let credentials = try await provider.credentials()
        #expect(credentials.accessKeyId == "ASIACONTAINER")
        #expect(credentials.sessionToken == "tokencontainer")
        #expect(credentials.expiration != nil)
        #expect(server.requests.first?.headers["authorization"] == nil)
    }

    @Test func containerCredentialsFullURIWithTokenFile() async throws {
        let server = try StubHTTPServer { request in
            guard request.headers["authorization"] == "pod-identity-token" else {
                return .init(status: 401, body: "no")
            }
            return .init(
                status: 200,
                body:
                    #"{"AccessKeyId":"ASIAEKS","SecretAccessKey":"s","Token":"t","Expiration":"2999-01-01T00:00:00Z"}"#
            )
        }
        defer { server.stop() }
        let tokenFile = NSTemporaryDirectory() + "cassnap-token-\(UUID().uuidString)"
        try "pod-identity-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: tokenFile) }
        let environment = [
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": server.url + "/creds",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": tokenFile,
        ]
        #expect(
            try await ContainerCredentialsProvider(environment: environment).credentials().accessKeyId
                == "ASIAEKS")

        // A plain-HTTP full URI must not point at an arbitrary host.
        let remote = ContainerCredentialsProvider(environment: [
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://203.0.113.9/creds"
        ])
        await #expect(throws: AWSCredentialsError.self) { try await remote.credentials() }

        // A wrong token is an error, not "try the next provider".
        let wrong = ContainerCredentialsProvider(environment: [
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": server.url + "/creds",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": "bad",
        ])
        await #expect {
            try await wrong.credentials()
        } throws: { error in
            guard case .invalid = error as? AWSCredentialsError else { return false }
            return true
        }
    }

    @Test func instanceMetadataV2() async throws {
        let server = try StubHTTPServer { request in
            switch (request.method, request.path) {
            case ("PUT", "/latest/api/token"):
                guard request.headers["x-aws-ec2-metadata-token-ttl-seconds"] == "21600" else {
                    return .init(status: 400, body: "")
                }
                return .init(status: 200, body: "imds-session-token")
            case ("GET", "/latest/meta-data/iam/security-credentials/"):
                guard request.headers["x-aws-ec2-metadata-token"] == "imds-session-token" else {
                    return .init(status: 401, body: "")
                }
                return .init(status: 200, body: "cassnap-node-role\n")
            case ("GET", "/latest/meta-data/iam/security-credentials/cassnap-node-role"):
                guard request.headers["x-aws-ec2-metadata-token"] == "imds-session-token" else {
                    return .init(status: 401, body: "")
                }
                return .init(
                    status: 200,
                    body: """
                        {"Code":"Success","LastUpdated":"2024-01-01T00:00:00Z","Type":"AWS-HMAC",
                         "AccessKeyId":"ASIAIMDS","SecretAccessKey":"secretimds","Token":"tokenimds",
                         "Expiration":"\(Self.iso(Date().addingTimeInterval(6 * 3600)))"}
                        """)
            default:
                return .init(status: 404, body: "")
            }
        }
        defer { server.stop() }
        let environment = ["AWS_EC2_METADATA_SERVICE_ENDPOINT": server.url + "/"]
        let credentials = try await InstanceMetadataCredentialsProvider(environment: environment)
            .credentials()
        #expect(credentials.accessKeyId == "ASIAIMDS")
        #expect(credentials.secretAccessKey == "secretimds")
        #expect(credentials.sessionToken == "tokenimds")
        #expect(server.requests.map(\.method) == ["PUT", "GET", "GET"])

        // Through the whole chain, with nothing else configured.
        let home = try TemporaryHome()
        defer { home.remove() }
        let chain = AWSCredentialsChain.standard(
            environment: environment.merging(["HOME": home.path]) { a, _ in a })
        #expect(try await chain.credentials().accessKeyId == "ASIAIMDS")

        var disabled = environment
        disabled["AWS_EC2_METADATA_DISABLED"] = "true"
        await #expect(throws: AWSCredentialsError.self) {
            try await InstanceMetadataCredentialsProvider(environment: disabled).credentials()
        }
    }

    @Test func unreachableMetadataIsNotConfiguredAndQuick() async throws {
        // A closed loopback port: refused at once, like being off EC2.
        let server = try StubHTTPServer { _ in .init(status: 200, body: "") }
        let url = server.url
        server.stop()
        await #expect {
            try await InstanceMetadataCredentialsProvider(environment: [
                "AWS_EC2_METADATA_SERVICE_ENDPOINT": url
            ]).credentials()
        } throws: { error in
            guard case .notConfigured = error as? AWSCredentialsError else { return false }
            return true
        }
    }

    static func iso(_ date: Date) -> String { date.formatted(.iso8601) }
}
