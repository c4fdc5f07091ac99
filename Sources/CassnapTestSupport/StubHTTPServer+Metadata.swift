extension StubHTTPServer {
    /// EC2's IMDSv2 as cloud detection sees it: a token from PUT, then reads that must carry
    /// it; the instance is in `region`.
    package static func fakeIMDS(region: String = "eu-west-3") throws -> StubHTTPServer {
        try StubHTTPServer { request in
            switch (request.method, request.path) {
            case ("PUT", "/latest/api/token"):
                guard request.headers["x-aws-ec2-metadata-token-ttl-seconds"] != nil else {
                    return .init(status: 400)
                }
                return .init(body: "token-123")
            case ("GET", "/latest/meta-data/placement/region"):
                guard request.headers["x-aws-ec2-metadata-token"] == "token-123" else {
                    return .init(status: 401)
                }
                return .init(body: region)
            default:
                return .init(status: 404)
            }
        }
    }
}
