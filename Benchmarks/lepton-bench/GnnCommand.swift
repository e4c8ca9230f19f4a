import ArgumentParser
import Foundation
import LeptonCLI
import LeptonEngine
import LeptonRisk

/// GraphSAGE full-graph forward and training epoch on the graph `gnn_peer.py --save-graph` wrote.
struct GnnCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gnn",
        abstract: "GraphSAGE forward pass and training epoch on the peer's graph (side by side with PyG).",
        discussion: """
        Uses the graph written by `python3 ../shared/bench/gnn_peer.py --save-graph DIR` (edges.csv,
        features.bin, labels.bin, graph.json): 2 × SAGEConv(mean), ReLU, full-batch cross-entropy
        and Adam, as the peer. With --peer, runs the peer script in the same session and prints
        the speed ratios.

        Example:
          python3 ../shared/bench/gnn_peer.py --save-graph /tmp/graph100k --models sage --paths csr --no-profile > /dev/null
          lepton-bench gnn --graph /tmp/graph100k --peer
        """)

    @Option(help: "Folder written by gnn_peer.py --save-graph.") var graph: String
    @Option(help: "Hidden width.") var hidden: Int = 64
    @Option(help: "Timed repeats (median reported).") var repeats: Int = 5
    @Option(help: "Threads.") var threads: Int = 2
    @Flag(help: "Time the forward pass only (for profiling).") var forwardOnly = false
    @Flag(help: "Also run ../shared/bench/gnn_peer.py on the same graph size and print ratios.") var peer = false
    @Option(help: "Path of gnn_peer.py.") var peerScript: String = "../shared/bench/gnn_peer.py"

    func run() throws {
        EngineThreads.set(threads)
        let dir = URL(fileURLWithPath: graph)
        guard let metaData = try? Data(contentsOf: dir.appendingPathComponent("graph.json")),
              let meta = try? JSONSerialization.jsonObject(with: metaData) as? [String: Any],
              let n = meta["nodes"] as? Int, let e = meta["edges"] as? Int, let f = meta["features"] as? Int,
              let classes = meta["classes"] as? Int, n > 0, f > 0, classes > 1
        else { Log.error("lepton-bench: \(graph): missing or bad graph.json"); throw ExitCode(ExitStatus.failure) }
        let t0 = Date()
        var src = [Int](), dst = [Int]()
        src.reserveCapacity(e); dst.reserveCapacity(e)
        var header = true
        var bad = 0
        try CSVStream(path: dir.appendingPathComponent("edges.csv").path).forEachRow { r in
            if header { header = false; return }
            guard r.count == 2, let a = r.int(0), let b = r.int(1), a < n, b < n else { bad += 1; return }
            src.append(a); dst.append(b)
        }
        guard src.count == e, bad == 0 else { Log.error("lepton-bench: edges.csv has \(src.count) good edges, graph.json says \(e)"); throw ExitCode(ExitStatus.failure) }
        guard let fx = try? Data(contentsOf: dir.appendingPathComponent("features.bin")), fx.count == n * f * 4,
              let lb = try? Data(contentsOf: dir.appendingPathComponent("labels.bin")), lb.count == n * 4
        else { Log.error("lepton-bench: features.bin / labels.bin missing or of the wrong size"); throw ExitCode(ExitStatus.failure) }
        let x = Tensor(shape: [n, f]) { b in fx.withUnsafeBytes { raw in _ = raw.copyBytes(to: b) } }
        let labels = lb.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }
        let loadMs = Date().timeIntervalSince(t0) * 1e3
        let t1 = Date()
        let g = try CSRGraph(sources: src, targets: dst, nodes: n)
        let prepMs = Date().timeIntervalSince(t1) * 1e3
        var model = SAGENodeClassifier(inputs: f, hidden: hidden, classes: classes, learningRate: 0.01, seed: 0)

        func cpuMs() -> Double {
            var ts = timespec(); clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
            return Double(ts.tv_sec) * 1e3 + Double(ts.tv_nsec) / 1e6
        }
        /// Median and minimum wall time, and median process CPU time (all threads), in ms.
        func time(_ body: () -> Void) -> (median: Double, min: Double, cpu: Double) {
            body() // warm-up
            var ts: [Double] = [], cs: [Double] = []
            for _ in 0..<max(1, repeats) {
                let s = Date(), c = cpuMs(); body()
                ts.append(Date().timeIntervalSince(s) * 1e3); cs.append(cpuMs() - c)
            }
            ts.sort(); cs.sort()
            return (ts[ts.count / 2], ts[0], cs[cs.count / 2])
        }
        var checksum: Double = 0
        let fwd = time { checksum = model.forward(x, graph: g).scalars.reduce(0.0) { $0 + Double($1) } }
        if forwardOnly {
            Log.info(String(format: "lepton sage: forward %.1f ms (min %.1f, CPU %.1f ms)", fwd.median, fwd.min, fwd.cpu))
            return
        }
        var losses: [Float] = []
        let train = time { losses.append(model.trainEpoch(x, labels: labels, graph: g)) }
        var result: [String: Any] = [
            "benchmark": "gnn", "model": "sage", "nodes": n, "edges": e, "features": f, "hidden": hidden, "classes": classes,
            "threads": threads, "repeats": repeats, "load_ms": loadMs, "prep_ms": prepMs,
            "forward_ms": ["median_ms": fwd.median, "min_ms": fwd.min, "cpu_median_ms": fwd.cpu],
            "train_epoch_ms": ["median_ms": train.median, "min_ms": train.min, "cpu_median_ms": train.cpu],
            "checksum": checksum, "losses": losses.map { Double($0) },
        ]
        Log.info(String(format: "lepton sage: forward %.1f ms (min %.1f, CPU %.1f), train epoch %.1f ms (min %.1f, CPU %.1f); CSR build %.0f ms",
                        fwd.median, fwd.min, fwd.cpu, train.median, train.min, train.cpu, prepMs))
        if peer {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["python3", peerScript, "--nodes", "\(n)", "--edges", "\(e)", "--features", "\(f)", "--hidden", "\(hidden)",
                           "--classes", "\(classes)", "--threads", "\(threads)", "--repeats", "\(repeats)", "--models", "sage",
                           "--paths", "edge_index,csr,EdgeIndex", "--no-profile", "--seed", "\((meta["seed"] as? Int) ?? 0)"]
            let pipe = Pipe()
            p.standardOutput = pipe
            try p.run()
            let out = pipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            if let obj = try? JSONSerialization.jsonObject(with: out) as? [String: Any], let rows = obj["results"] as? [[String: Any]] {
                // Each ratio against the peer's fastest path for that measurement.
                var bestF: (String, Double, Double)? = nil, bestT: (String, Double, Double)? = nil
                for r in rows where (r["ok"] as? Bool) == true {
                    let path = (r["path"] as? String) ?? "?"
                    if let f = r["forward_ms"] as? [String: Any], let fm = f["median_ms"] as? Double, bestF == nil || fm < bestF!.1 {
                        bestF = (path, fm, (f["cpu_median_ms"] as? Double) ?? .nan)
                    }
                    if let t = r["train_epoch_ms"] as? [String: Any], let tm = t["median_ms"] as? Double, bestT == nil || tm < bestT!.1 {
                        bestT = (path, tm, (t["cpu_median_ms"] as? Double) ?? .nan)
                    }
                }
                if let f = bestF, let t = bestT {
                    result["peer"] = ["forward_path": f.0, "forward_ms": f.1, "forward_cpu_ms": f.2,
                                      "train_path": t.0, "train_epoch_ms": t.1, "train_epoch_cpu_ms": t.2]
                    result["speedup_forward"] = f.1 / fwd.median
                    result["speedup_train_epoch"] = t.1 / train.median
                    result["speedup_forward_cpu"] = f.2 / fwd.cpu
                    result["speedup_train_epoch_cpu"] = t.2 / train.cpu
                    Log.info(String(format: "PyG sage: forward %.1f ms (%@, CPU %.1f), train epoch %.1f ms (%@, CPU %.1f)",
                                    f.1, f.0, f.2, t.1, t.0, t.2))
                    Log.info(String(format: "lepton faster by: forward %.2f× (CPU %.2f×), train epoch %.2f× (CPU %.2f×)",
                                    f.1 / fwd.median, f.2 / fwd.cpu, t.1 / train.median, t.2 / train.cpu))
                }
                result["peer_results"] = rows
            } else { Log.error("peer run failed (exit \(p.terminationStatus))") }
        }
        let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
        emitLine(String(decoding: data, as: UTF8.self))
    }
}
