// swift-tools-version:6.0
// Lepton: one shared inference engine, three decoders and three programs on top.
import PackageDescription

// Every Swift target gets the machine's SIMD width: without it SIMD code turns into library
// calls (see ../shared/specs/swift-performance.md). Cross-module optimisation recompiles small
// public functions with the caller's flags, so tests and apps need it too.
let fast: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]

// Supported platform: Linux on x86-64 with AVX2 (Ubuntu 22.04 and 24.04, the apt packages named
// below; `-target-cpu haswell` above). That is what we build, test and benchmark. No Apple
// platform is declared because none is built or tested (OpenBLAS through pkg-config, Glibc).
let package = Package(
    name: "Lepton",
    products: [
        .executable(name: "lepton-chat", targets: ["lepton-chat"]),
        .executable(name: "lepton-risk", targets: ["lepton-risk"]),
        .executable(name: "lepton-diagnose", targets: ["lepton-diagnose"]),
        .executable(name: "lepton-bench", targets: ["lepton-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // `score --top K`: the best K of millions of rows without sorting them all (`min(count:sortedBy:)`).
        .package(url: "https://github.com/apple/swift-algorithms", from: "1.2.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        // SHA-256 for model identities and salted subject IDs (never hand-written hashing).
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"4.0.0"),
        // The services (`serve`, issue 19): HTTP, lifecycle, logs, metrics, PostgreSQL, multipart forms.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        // TLS to PostgreSQL (sslmode/sslrootcert); already resolved through postgres-nio.
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.29.0"),
        .package(url: "https://github.com/vapor/multipart-kit", from: "4.7.1"),
        // lepton-chat's live transcription route (WebSocket upgrade on the Hummingbird server) and,
        // in ServerTests, the client that drives it.
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        // The services' worker threads (NIOThreadPool); already resolved through Hummingbird.
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
        // ONNX model files (issue 24): the protobuf runtime for the committed Sources/LeptonONNX/Proto/onnx.pb.swift.
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // MARK: C libraries (system-library targets). Each is imported only by the module that wraps it
        // (scripts/check-imports.py checks it): zlib by LeptonFiles (inflate) and LeptonSpeech (Whisper's
        // compression ratio); the bench also calls cblas_sgemm as its baseline; tests may build inputs with them.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CSndFile", pkgConfig: "sndfile", providers: [.apt(["libsndfile1-dev"])]),
        .systemLibrary(name: "CSampleRate", pkgConfig: "samplerate", providers: [.apt(["libsamplerate0-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CLibXML2", pkgConfig: "libxml-2.0", providers: [.apt(["libxml2-dev"])]),
        .systemLibrary(name: "CSQLite3", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // DICOM codestreams (issue 22): CharLS (BSD) for JPEG-LS, OpenJPEG (BSD) for JPEG 2000; both only
        // through CDICOMCodecs, with DCMTK's IJG codecs (BSD, libdcmtk-dev) for JPEG 8/12/16-bit and lossless.
        .systemLibrary(name: "CCharLS", pkgConfig: "charls", providers: [.apt(["libcharls-dev"])]),
        .systemLibrary(name: "COpenJPEG", pkgConfig: "libopenjp2", providers: [.apt(["libopenjp2-7-dev"])]),
        // oneDNN (Apache-2.0): the int8 GEMM (`dnnl_gemm_s8s8s32`, VNNI) behind `--compute-type int8` (issue 24).
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),

        // MARK: Files: the one atomic write and the one bounded inflate, for the engine, decoders and programs
        .target(name: "LeptonFiles", dependencies: ["CZlib"], swiftSettings: fast),

        // MARK: The engine: tensors, kernels, autodiff, layers, optimizers, losses, metrics, formats
        .target(name: "LeptonEngine", dependencies: ["CBLAS", "CDNNL", "LeptonFiles", .product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: fast),

        // MARK: Decoders
        .target(name: "LeptonAudio", dependencies: ["CSndFile", "CSampleRate", "LeptonFiles"], swiftSettings: fast),
        // libpng's errors longjmp; CPNGShim keeps every setjmp/longjmp inside C.
        .target(name: "CPNGShim", dependencies: ["CPNG"]),
        // The DICOM codecs behind one C interface that returns error codes (no exit, throw or longjmp
        // reaches Swift); DCMTK is C++, so it is linked here by name.
        .target(name: "CDICOMCodecs", dependencies: ["CCharLS", "COpenJPEG"],
                linkerSettings: ["dcmjpeg", "ijg8", "ijg12", "ijg16", "dcmimgle", "dcmdata", "oflog", "ofstd"].map { .linkedLibrary($0) }),
        .target(name: "LeptonImage", dependencies: ["CPNG", "CPNGShim", "CDICOMCodecs", "LeptonFiles"], swiftSettings: fast),
        .target(name: "LeptonReport", dependencies: ["CLibXML2"], swiftSettings: fast),

        // MARK: Domain libraries
        .target(name: "LeptonSpeech", dependencies: ["LeptonEngine", "LeptonAudio", "CZlib", "LeptonONNX"], swiftSettings: fast),
        // Chat, one module per concern: text understanding (WordPiece, MiniLM, intents, entities) on
        // the engine alone; dialog (domain, NLU data, forms, session store, agent) on top of it; the
        // voice front (call listener, reply speaker) the only part that hears or speaks.
        .target(name: "LeptonText", dependencies: ["LeptonEngine", "LeptonONNX"], swiftSettings: fast),
        // Session stores: SQLite embedded here, sealed with AES-GCM on request (swift-crypto); PostgreSQL
        // (postgres-nio), shared by replicas, in a module of its own so that the fuzz and sanitizer
        // builds of the dialog do not compile the NIO stack.
        // The one YAML reader (alias bombs and deep nesting refused before Yams builds anything),
        // shared by chat files and lepton-risk's schema maps.
        .target(name: "LeptonYAML", dependencies: [.product(name: "Yams", package: "Yams")], swiftSettings: fast),
        .target(name: "LeptonDialog", dependencies: ["LeptonText", "LeptonEngine", "LeptonYAML", "CSQLite3", .product(name: "Yams", package: "Yams"),
                                                     .product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: fast),
        // One reading of postgresql:// URLs (with libpq's sslmode/sslrootcert) for both programs.
        .target(name: "LeptonPostgres", dependencies: [.product(name: "PostgresNIO", package: "postgres-nio"),
                                                       .product(name: "NIOSSL", package: "swift-nio-ssl")], swiftSettings: fast),
        .target(name: "LeptonDialogPostgres", dependencies: ["LeptonDialog", "LeptonText", "LeptonPostgres", .product(name: "PostgresNIO", package: "postgres-nio")],
                swiftSettings: fast),
        .target(name: "LeptonVoice", dependencies: ["LeptonDialog", "LeptonText", "LeptonSpeech", "LeptonAudio"], swiftSettings: fast),
        .target(name: "LeptonDiagnose", dependencies: ["LeptonEngine", "LeptonImage", "LeptonReport", "LeptonONNX",
                                                        "LeptonText",  // the Transformer report reader (MiniLM)
                                                        .product(name: "Crypto", package: "swift-crypto")], swiftSettings: fast),
        .target(name: "LeptonRisk", dependencies: ["LeptonEngine", "LeptonYAML", "LeptonFiles"], swiftSettings: fast),
        // lepton-risk's PostgreSQL feeds (transactions in through a cursor, alerts out), apart so that
        // the fuzz and sanitizer builds of LeptonRisk do not compile the NIO stack.
        .target(name: "LeptonRiskPostgres", dependencies: ["LeptonRisk", "LeptonPostgres", .product(name: "PostgresNIO", package: "postgres-nio")],
                swiftSettings: fast),

        // ONNX import (issue 24): models exported from PyTorch, read with swift-protobuf and run on the engine's kernels.
        .target(name: "LeptonONNX", dependencies: ["LeptonEngine", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
                exclude: ["README.md"], swiftSettings: fast),

        // MARK: Shared command-line plumbing (option groups, exit codes, atomic output)
        .target(name: "LeptonCLI", dependencies: ["LeptonEngine", "LeptonFiles", .product(name: "ArgumentParser", package: "swift-argument-parser")],
                swiftSettings: fast),

        // MARK: Services: the HTTP plumbing the three `serve` commands share (Hummingbird 2, lifecycle, logs, metrics)
        .target(name: "LeptonServer", dependencies: ["LeptonCLI", "LeptonEngine",
                                                    .product(name: "Hummingbird", package: "hummingbird"),
                                                    .product(name: "HummingbirdCore", package: "hummingbird"),
                                                    .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                                                    .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                                                    .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                                                    .product(name: "Logging", package: "swift-log"),
                                                    .product(name: "Metrics", package: "swift-metrics"),
                                                    .product(name: "Prometheus", package: "swift-prometheus"),
                                                    .product(name: "NIOCore", package: "swift-nio"),
                                                    .product(name: "NIOPosix", package: "swift-nio"),
                                                    .product(name: "Crypto", package: "swift-crypto"),
                                                    .product(name: "ArgumentParser", package: "swift-argument-parser")],
                swiftSettings: fast),

        // MARK: Programs (thin: argument parsing and output)
        .executableTarget(name: "lepton-chat", dependencies: ["LeptonEngine", "LeptonText", "LeptonDialog", "LeptonDialogPostgres", "LeptonVoice", "LeptonSpeech", "LeptonAudio",
                                                              "LeptonImage", "LeptonCLI", "LeptonServer", .product(name: "Hummingbird", package: "hummingbird"),
                                                              .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                                                              .product(name: "NIOWebSocket", package: "swift-nio"),
                                                              .product(name: "Metrics", package: "swift-metrics"),
                                                              .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "apps/lepton-chat", swiftSettings: fast),
        .executableTarget(name: "lepton-risk", dependencies: ["LeptonEngine", "LeptonImage", "LeptonRisk", "LeptonRiskPostgres", "LeptonCLI", "LeptonServer", .product(name: "Hummingbird", package: "hummingbird"),
                                                              .product(name: "ArgumentParser", package: "swift-argument-parser"),
                                                              .product(name: "Algorithms", package: "swift-algorithms")],
                          path: "apps/lepton-risk", swiftSettings: fast),
        .executableTarget(name: "lepton-diagnose", dependencies: ["LeptonEngine", "LeptonDiagnose", "LeptonImage", "LeptonReport", "LeptonCLI", "LeptonServer", .product(name: "Hummingbird", package: "hummingbird"),
                                                                  .product(name: "MultipartKit", package: "multipart-kit"),
                                                                  .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "apps/lepton-diagnose", swiftSettings: fast),
        .executableTarget(name: "lepton-bench", dependencies: ["CBLAS", "LeptonEngine", "LeptonSpeech", "LeptonText", "LeptonDialog", "LeptonRisk",
                                                               "LeptonDiagnose", "LeptonCLI", "LeptonONNX",
                                                               .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Benchmarks/lepton-bench", swiftSettings: fast),

        // MARK: Tests
        // Helpers shared by the test targets (the finite-difference gradient checker, a seeded generator).
        .target(name: "LeptonTestSupport", dependencies: ["LeptonEngine"], path: "Tests/TestSupport", swiftSettings: fast),
        .testTarget(name: "EngineTests", dependencies: ["LeptonEngine", "LeptonTestSupport"], exclude: ["Fixtures"], swiftSettings: fast),
        .testTarget(name: "AudioTests", dependencies: ["LeptonAudio", "LeptonFiles", "LeptonTestSupport"], exclude: ["Fixtures"], swiftSettings: fast),
        .testTarget(name: "ImageTests", dependencies: ["LeptonImage", "CZlib", "LeptonTestSupport"], exclude: ["Fixtures"], swiftSettings: fast),
        .testTarget(name: "ReportTests", dependencies: ["LeptonReport"], swiftSettings: fast),
        .testTarget(name: "SpeechTests", dependencies: ["LeptonSpeech", "LeptonAudio", "LeptonEngine", "LeptonONNX"], exclude: ["Fixtures"],
                    swiftSettings: fast),
        // Chat's three modules: one target, each file importing the module it tests.
        .testTarget(name: "ChatTests", dependencies: ["LeptonText", "LeptonDialog", "LeptonDialogPostgres", "LeptonVoice", "LeptonEngine", "CSQLite3",
                                                    "LeptonTestSupport"], exclude: ["Fixtures"],
                    swiftSettings: fast),
        .testTarget(name: "DiagnoseTests", dependencies: ["LeptonDiagnose", "LeptonImage", "LeptonReport", "LeptonEngine",
                                                        "LeptonText",
                                                        "LeptonTestSupport"],
                    swiftSettings: fast),
        .testTarget(name: "RiskTests", dependencies: ["LeptonRisk", "LeptonEngine", "LeptonTestSupport"], swiftSettings: fast),
        // Every crash lepton-fuzz found (scripts/fuzz.sh), as an input that trapped before its fix.
        .testTarget(name: "FuzzRegressionTests", dependencies: ["LeptonDiagnose", "LeptonDialog", "LeptonEngine"], swiftSettings: fast),
        .testTarget(name: "CLITests", dependencies: ["LeptonCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")], swiftSettings: fast),
        .testTarget(name: "FilesTests", dependencies: ["LeptonFiles", "CZlib"], swiftSettings: fast),
        // The three services run as child processes (`serve --port 0`) and called with curl (the
        // WebSocket route with hummingbird-websocket's client).
        .testTarget(name: "ServerTests", dependencies: ["LeptonTestSupport", .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                                                      .product(name: "Logging", package: "swift-log"),
                                                      .product(name: "NIOCore", package: "swift-nio"),
                                                      .product(name: "NIOWebSocket", package: "swift-nio")], exclude: ["Fixtures"], swiftSettings: fast),
        // Every model shared by many threads at once (scripts/tsan.sh runs it under the thread sanitizer).
        .testTarget(name: "ConcurrencyTests", dependencies: ["LeptonEngine", "LeptonSpeech", "LeptonText", "LeptonDiagnose", "LeptonRisk"],
                    swiftSettings: fast),
        // ONNX models against ONNX Runtime's answers (fixtures: scripts/make-onnx-fixtures.py), hostile files.
        .testTarget(name: "ONNXTests", dependencies: ["LeptonONNX", "LeptonEngine", "LeptonDiagnose", "LeptonImage", "LeptonText"], swiftSettings: fast),
    ],
    swiftLanguageModes: [.v6]
)

// MARK: Fuzzing (only when asked: LEPTON_FUZZ=1, as scripts/fuzz.sh sets it)
// One executable holds a libFuzzer target per decoder and loader a user's file reaches; the
// script builds it with AddressSanitizer and libFuzzer coverage into .build-fuzz, so the normal build and the
// test suite never compile it.
if Context.environment["LEPTON_FUZZ"] == "1" {
    package.products.append(.executable(name: "lepton-fuzz", targets: ["lepton-fuzz"]))
    package.targets.append(.executableTarget(
        name: "lepton-fuzz",
        dependencies: ["LeptonAudio", "LeptonImage", "LeptonReport", "LeptonDiagnose", "LeptonRisk", "LeptonDialog", "LeptonEngine", "LeptonONNX"],
        path: "Fuzz/LeptonFuzz", swiftSettings: fast))
}

// MARK: Thread-sanitizer build (LEPTON_TSAN=1, as scripts/tsan.sh sets it)
// Only ConcurrencyTests and the modules it reaches: the sanitizer build then skips the apps and the
// server packages (Hummingbird, postgres-nio...), which would double its build time for nothing it runs.
if Context.environment["LEPTON_TSAN"] == "1" {
    let byName = Dictionary(uniqueKeysWithValues: package.targets.map { ($0.name, $0) })
    var keep: Set<String> = []
    var todo = ["ConcurrencyTests"]
    while let name = todo.popLast() {
        guard keep.insert(name).inserted, let target = byName[name] else { continue }
        for dependency in target.dependencies {
            if case .targetItem(let dep, _) = dependency { todo.append(dep) }
            if case .byNameItem(let dep, _) = dependency { todo.append(dep) }
        }
    }
    package.targets.removeAll { !keep.contains($0.name) }
    package.products.removeAll()
}
