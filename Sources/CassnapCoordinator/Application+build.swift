import CassnapCore
import CassnapObjectStore
import CassnapStoreFactory
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOSSL
import ServiceLifecycle

/// The coordinator, wired: the application to run plus the parts tests look at.
package struct Coordinator<App: ApplicationProtocol>: Sendable {
    package var application: App
    package var catalog: any Catalog
    package var snapshots: SnapshotService
    package var schedules: ScheduleService
    package var routes: [RouteDescription]
    package var logger: Logger

    /// Runs server and scheduler until the task is cancelled, then shuts down gracefully
    /// (tests); `cassnap-coordinator run` uses SIGTERM/SIGINT instead.
    package func run() async throws {
        let group = ServiceGroup(
            configuration: .init(services: [application], gracefulShutdownSignals: [], logger: logger))
        // Unstructured, so cancelling the caller asks for a graceful shutdown instead of
        // cancelling the server mid-request.
        let running = Task { try await group.run() }
        try await withTaskCancellationHandler {
            try await running.value
        } onCancel: {
            Task { await group.triggerGracefulShutdown() }
        }
    }
}

/// Builds the whole coordinator from its configuration: catalog (migrated), store, services,
/// controllers and router. `main` and the tests call this same function.
/// - Parameters:
///   - store: an already-open store (tests pass an in-memory one); nil opens `configuration.store`.
///   - onListening: called with the bound port once the server accepts connections.
package func buildApplication(
    configuration: CoordinatorConfiguration, store: (any ObjectStore)? = nil,
    logger: Logger = Logger(label: "cassnap.coordinator"),
    onListening: @escaping @Sendable (Int) async -> Void = { _ in }
) throws -> Coordinator<some ApplicationProtocol> {
    try configuration.validate()
    let keys = try configuration.objectKeys()
    let (host, port) = try configuration.listenAddress()
    if !configuration.listensOnLoopbackOnly() && !configuration.tls.enabled {
        logger.warning(
            "LISTENING BEYOND LOOPBACK OVER PLAIN HTTP (allow_plain_http): bearer tokens and reports cross the network unencrypted unless a TLS proxy is in front",
            metadata: ["listen.address": "\(configuration.listen)"])
    }
    let tls = try configuration.tls.enabled ? TLSFiles.serverConfiguration(configuration.tls) : nil
    let store = try store ?? ObjectStoreFactory.open(url: configuration.store)
    let catalog = try SQLiteCatalog(path: configuration.database, cluster: keys.cluster, logger: logger)
    let snapshots = SnapshotService(
        catalog: catalog, store: store, keys: keys, settings: configuration.snapshots, logger: logger)
    let rebuilder = CatalogRebuilder(
        store: store, keys: keys, logger: logger,
        maximumObjectBytes: configuration.snapshots.maximumManifestBytes)
    let tokens = APITokens(agent: configuration.agentToken, admin: configuration.adminToken)

    let bodies = BodyGate(permits: BodyLimit.concurrentBodies)
    let metrics = CoordinatorMetrics()
    let router = Router()
    router.add(middleware: RequestMetricsMiddleware(metrics: metrics))
    router.add(middleware: ServerErrorLogMiddleware(logger: logger))
    let book = RouteBook()
    let agents = router.group("/v1/agents").add(
        middleware: BearerAuthMiddleware<BasicRequestContext>(required: .agent, tokens: tokens))
    AgentController<BasicRequestContext>(
        catalog: catalog, snapshots: snapshots, keys: keys, bodies: bodies, metrics: metrics, logger: logger
    )
    .addRoutes(to: RouteRegistrar(group: agents, prefix: "/v1/agents", book: book))
    let admin = router.group("/v1").add(
        middleware: BearerAuthMiddleware<BasicRequestContext>(required: .admin, tokens: tokens))
    AdminController<BasicRequestContext>(
        catalog: catalog, snapshots: snapshots, rebuilder: rebuilder, bodies: bodies,
        repositoryInfo: .init(store: configuration.store, cluster: keys.cluster.rawValue)
    )
    .addRoutes(to: RouteRegistrar(group: admin, prefix: "/v1", book: book))
    let schedules = ScheduleService(
        catalog: catalog, snapshots: snapshots, settings: configuration.schedules, logger: logger)
    ScheduleController<BasicRequestContext>(schedules: schedules, catalog: catalog, bodies: bodies)
        .addRoutes(to: RouteRegistrar(group: admin, prefix: "/v1", book: book))

    // /metrics: beside the API, or on its own listener; with the admin token unless told not to.
    let scrape = MetricsEndpoint(
        metrics: metrics, catalog: catalog, liveNodeSeconds: configuration.snapshots.liveNodeSeconds)
    var extraServices: [any Service] = []
    if configuration.metrics.listen.isEmpty {
        let group = router.group("/metrics")
        if configuration.metrics.requireToken {
            group.add(middleware: BearerAuthMiddleware<BasicRequestContext>(required: .admin, tokens: tokens))
        }
        RouteRegistrar(group: group, prefix: "/metrics", book: book).on(.get, "", use: scrape.handle)
    } else {
        let (metricsHost, metricsPort) = try CoordinatorConfiguration.address(
            configuration.metrics.listen, field: "metrics.listen")
        let metricsRouter = Router()
        let group = metricsRouter.group("/metrics")
        if configuration.metrics.requireToken {
            group.add(middleware: BearerAuthMiddleware<BasicRequestContext>(required: .admin, tokens: tokens))
        }
        group.get(use: scrape.handle)
        extraServices.append(
            Application(
                router: metricsRouter, server: try TLSFiles.server(.http1(), tls: tls),
                configuration: ApplicationConfiguration(
                    address: .hostname(metricsHost, port: metricsPort),
                    serverName: "cassnap-coordinator-metrics"),
                onServerRunning: { channel in
                    logger.info(
                        "Metrics listening",
                        metadata: ["listen.port": "\(channel.localAddress?.port ?? metricsPort)"])
                },
                logger: logger))
    }

    let interval = Duration.milliseconds(Int64(configuration.snapshots.schedulerIntervalSeconds * 1000))
    let application = Application(
        router: router,
        server: try TLSFiles.server(
            HTTPServerBuilder {
                LeanHTTP1Channel(
                    responder: $0, idleTimeout: .milliseconds(Int64(configuration.idleTimeoutSeconds * 1000)))
            }, tls: tls),
        configuration: ApplicationConfiguration(
            address: .hostname(host, port: port), serverName: "cassnap-coordinator"),
        services: [
            PeriodicService(interval: interval) { await snapshots.tick(now: Date()) },
            PeriodicService(interval: interval) { await schedules.tick(now: Date()) },
        ] + extraServices,
        onServerRunning: { channel in
            let bound = channel.localAddress?.port ?? port
            logger.info("Coordinator listening", metadata: ["listen.port": "\(bound)"])
            await onListening(bound)
        },
        logger: logger)
    return Coordinator(
        application: application, catalog: catalog, snapshots: snapshots, schedules: schedules,
        routes: book.routes, logger: logger)
}

/// Runs `tick` once per interval until graceful shutdown: the deadline scheduler (settles
/// passed deadlines, writes changed records to the bucket) and the schedule runner, each on
/// its own loop so a long retention sweep never delays a deadline.
struct PeriodicService: Service {
    let interval: Duration
    let tick: @Sendable () async -> Void

    func run() async throws {
        // A record changed just before a crash is written on the first tick.
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await tick()
            do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) } } catch {
                return
            }
        }
    }
}

/// `GET /metrics`: the Prometheus text format.
struct MetricsEndpoint: Sendable {
    let metrics: CoordinatorMetrics
    let catalog: any MetricsCatalog
    let liveNodeSeconds: Double

    @Sendable func handle(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let text = try await metrics.scrape(catalog: catalog, liveNodeSeconds: liveNodeSeconds, now: Date())
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: text)))
    }
}

/// The coordinator's HTTPS: its certificate chain and key, read once at start, with errors that
/// name the setting and the file.
enum TLSFiles {
    static func serverConfiguration(_ settings: CoordinatorConfiguration.TLSSettings) throws
        -> TLSConfiguration
    {
        let chain: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMFile(settings.certFile) } catch {
            throw ConfigurationError(
                field: "tls.cert_file",
                message: "\(settings.certFile) holds no PEM certificate chain: \(error)")
        }
        guard !chain.isEmpty else {
            throw ConfigurationError(
                field: "tls.cert_file", message: "\(settings.certFile) holds no certificate")
        }
        let key: NIOSSLPrivateKey
        do { key = try NIOSSLPrivateKey(file: settings.keyFile, format: .pem) } catch {
            throw ConfigurationError(
                field: "tls.key_file", message: "\(settings.keyFile) holds no PEM private key: \(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        return configuration
    }

    /// `base`, wrapped in TLS when configured.
    static func server(_ base: HTTPServerBuilder, tls: TLSConfiguration?) throws -> HTTPServerBuilder {
        guard let tls else { return base }
        return try .tls(base, tlsConfiguration: tls)
    }
}
