import CassnapHTTP
import Foundation

/// Which cloud this node runs on, found the way the Go seed tool did: ask the AWS instance
/// metadata service (IMDSv2) and the GCE metadata server, with short timeouts, at once.
package enum Cloud: Sendable, Equatable {
    case aws(region: String?)
    case gce(project: String?)
    case none
}

package struct CloudDetector: Sendable {
    package var environment: [String: String]
    package var timeout: Duration = .milliseconds(1500)

    package init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    private var client: CurlHTTPClient {
        var c = HTTPClientConfiguration()
        c.connectTimeout = timeout
        c.totalTimeout = timeout
        c.maxIdleHandles = 0
        return CurlHTTPClient(configuration: c)
    }

    /// AWS wins if both answer (a GCE server cannot fake IMDSv2's token PUT, and vice versa).
    package func detect() async -> Cloud {
        async let aws = probeAWS()
        async let gce = probeGCE()
        if let region = await aws { return .aws(region: region) }
        if let project = await gce { return .gce(project: project) }
        return .none
    }

    /// The region (or "" when unreadable) if IMDSv2 answers.
    func probeAWS() async -> String?? {
        if environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() == "true" { return nil }
        let base = (environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"] ?? "http://169.254.169.254")
            .trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        guard
            let token = try? await client.perform(
                HTTPRequest(
                    method: "PUT", url: base + "/latest/api/token",
                    headers: [("X-aws-ec2-metadata-token-ttl-seconds", "60")])),
            token.status == 200, !token.body.isEmpty
        else { return nil }
        let region = try? await client.perform(
            HTTPRequest(
                method: "GET", url: base + "/latest/meta-data/placement/region",
                headers: [("X-aws-ec2-metadata-token", token.bodyText)]))
        return .some(region?.status == 200 ? region?.bodyText : nil)
    }

    /// The project id (or nil inside) if the GCE metadata server answers as GCE does.
    func probeGCE() async -> String?? {
        let host = environment["GCE_METADATA_HOST"] ?? "metadata.google.internal"
        let base = host.contains("://") ? host : "http://" + host
        guard
            let response = try? await client.perform(
                HTTPRequest(
                    method: "GET", url: base + "/computeMetadata/v1/project/project-id",
                    headers: [("Metadata-Flavor", "Google")])),
            response.header("Metadata-Flavor") == "Google"
        else { return nil }
        return .some(response.status == 200 ? response.bodyText : nil)
    }

    /// `defaultStoreURL(for: detect())`, for an agent or coordinator configured without a store.
    /// The metadata servers are asked only when `BUCKET_NAME` is set: otherwise nil at once.
    package func detectedDefaultStore() async -> String? {
        guard let bucket = environment["BUCKET_NAME"], !bucket.isEmpty else { return nil }
        return defaultStoreURL(for: await detect())
    }

    /// The store to use when none was configured: the seed tool's `BUCKET_NAME` on the
    /// detected cloud. Nil when there is no cloud or no bucket name.
    package func defaultStoreURL(for cloud: Cloud) -> String? {
        guard let bucket = environment["BUCKET_NAME"], !bucket.isEmpty else { return nil }
        switch cloud {
        case .aws(let region): return "s3://\(bucket)" + (region.map { "?region=\($0)" } ?? "")
        case .gce: return "gs://\(bucket)"
        case .none: return nil
        }
    }
}
