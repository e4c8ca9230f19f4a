import ArgumentParser
import Foundation
import LeptonCLI
import LeptonEngine
import LeptonSpeech

/// `lepton-bench asr`: Lepton's Whisper tiny.en beside `../shared/bench/asr_peer.py` (faster-whisper).
struct AsrCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "asr",
        abstract: "Speech recognition speed, peak memory and WER on the files asr_peer.py uses.",
        discussion: """
        Same protocol as ../shared/bench/asr_peer.py: the model is loaded (timed apart), one
        untimed warm-up transcription of the first file, then --repeats passes over all files.
        The timed region is decoding the file + features + encoder + decoding, as a user runs it.
        Inputs are audio files and/or TSV files (file<TAB>…<TAB>reference; names relative to the
        TSV's folder); WER uses the peer's normaliser. One JSON object on stdout.

        Run it beside the peer, alternating, with the same files and threads:
          lepton-bench asr ../shared/data/speech/dev/transcripts.tsv
          python3 ../shared/bench/asr_peer.py --model-dir ~/.cache/lepton/models/whisper-tiny.en
        """)

    @Argument(help: "Audio files and/or file<TAB>text TSV files (default: ../shared/data/speech/dev/transcripts.tsv).")
    var inputs: [String] = []

    @Option(name: .long, help: "Beam width.")
    var beamSize: Int = 5

    @Option(name: .long, help: "Timed passes over all files.")
    var repeats: Int = 3

    @Option(name: .long, help: "Whisper model folder.")
    var model: String?


    @OptionGroup var compute: ComputeTypeOptions
    @OptionGroup var common: CommonOptions

    struct Item { var name: String; var url: URL; var reference: String? }

    func run() throws {
        Log.level = common.logLevel
        EngineThreads.set(common.threads)
        let items: [Item]
        do { items = try loadInputs(inputs.isEmpty ? ["../shared/data/speech/dev/transcripts.tsv"] : inputs) } catch {
            Log.error("error: \(error)")
            throw ExitCode(ExitStatus.failure)
        }
        guard !items.isEmpty else { Log.error("error: no input files"); throw ExitCode(ExitStatus.usage) }
        let load0 = loadAverage()
        let t0 = wall()
        let whisper: WhisperModel
        do {
            whisper = try WhisperModel(directory: model.map { URL(fileURLWithPath: $0) } ?? ModelCache.whisperTinyEn, computeType: compute.computeType)
        } catch {
            Log.error("error: \(error)")
            throw ExitCode(ExitStatus.failure)
        }
        let loadSeconds = wall() - t0
        Log.info(String(format: "model loaded in %.2f s", loadSeconds))
        var options = WhisperTranscribeOptions()
        options.beamSize = beamSize
        let transcriber = WhisperTranscriber(model: whisper, options: options)

        var durations: [String: Double] = [:]
        var texts: [String: String] = [:]
        let w = wall()
        // Stage times include the warm-up (as before: "since the transcriber was made"); step counts do not.
        var stages = try transcriber.transcribe(url: items[0].url).statistics
        Log.info(String(format: "warm-up %.2f s", wall() - w))

        var steps = 0, stepRows = 0
        var walls = [String: [Double]](), cpus = [String: [Double]]()
        var passWall: [Double] = [], passCPU: [Double] = []
        for r in 0..<max(1, repeats) {
            var pw = 0.0, pc = 0.0
            for item in items {
                let c0 = cpu(), t = wall()
                let result = try transcriber.transcribe(url: item.url)
                let dt = wall() - t, dc = cpu() - c0
                walls[item.name, default: []].append(dt)
                cpus[item.name, default: []].append(dc)
                texts[item.name] = result.text
                stages += result.statistics
                steps += result.statistics.decoderSteps
                stepRows += result.statistics.decoderRows
                durations[item.name] = result.duration
                pw += dt
                pc += dc
            }
            passWall.append(pw)
            passCPU.append(pc)
            Log.info(String(format: "pass %d/%d: %.2f s wall for %.1f s audio", r + 1, repeats, pw, durations.values.reduce(0, +)))
        }

        var files: [[String: Any]] = []
        var errors = 0, refWords = 0
        for item in items {
            var row: [String: Any] = ["file": item.name, "audio_s": rounded(durations[item.name] ?? 0),
                                      "wall_s": median(walls[item.name] ?? []), "wall_min_s": (walls[item.name] ?? []).min() ?? 0,
                                      "cpu_s": median(cpus[item.name] ?? []), "text": texts[item.name] ?? ""]
            if let ref = item.reference {
                let e = WordErrorRate.errors(reference: ref, hypothesis: texts[item.name] ?? "")
                row["ref"] = ref
                row["errors"] = e.errors
                row["ref_words"] = e.words
                row["wer"] = e.words > 0 ? Double(e.errors) / Double(e.words) : NSNull()
                errors += e.errors
                refWords += e.words
            }
            files.append(row)
        }
        let audio = durations.values.reduce(0, +)
        let wallMedian = median(passWall)
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let result: [String: Any] = [
            "benchmark": "asr",
            "engine": "lepton \(leptonVersion) whisper tiny.en, compute type \(compute.computeType.rawValue) (OpenBLAS \(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "auto"))",
            "config": ["beam_size": beamSize, "threads": common.threads, "compute_type": compute.computeType.rawValue, "repeats": repeats,
                       "timed_region": "transcribe (incl. LeptonAudio decode)"] as [String: Any],
            "model_load_s": loadSeconds,
            "files": files,
            "totals": ["files": items.count, "audio_s": audio, "wall_s": wallMedian, "wall_min_s": passWall.min() ?? 0,
                       "cpu_s": median(passCPU), "rtf": wallMedian / max(audio, 1e-9), "rtf_min": (passWall.min() ?? 0) / max(audio, 1e-9),
                       "wer": refWords > 0 ? Double(errors) / Double(refWords) : NSNull(), "errors": errors, "ref_words": refWords] as [String: Any],
            "stage_s": ["features": stages.featureSeconds, "encoder": stages.encoderSeconds, "decoder": stages.decoderSeconds],
            "decoder_steps_per_pass": steps / max(1, repeats),
            "decoder_rows_per_pass": stepRows / max(1, repeats),
            "peak_rss_mb": rounded(Double(usage.ru_maxrss) / 1024, 1),
            "loadavg_1min": [load0, loadAverage()],
        ]
        let data = try JSONSerialization.data(withJSONObject: result, options: [.prettyPrinted, .sortedKeys])
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }

    private func loadInputs(_ paths: [String]) throws -> [Item] {
        var items: [Item] = []
        for p in paths {
            if p.lowercased().hasSuffix(".tsv") {
                let base = URL(fileURLWithPath: p).deletingLastPathComponent()
                let text = try String(contentsOfFile: p, encoding: .utf8)
                for line in text.split(whereSeparator: \.isNewline) {
                    let parts = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
                    guard parts.count >= 2, parts[0].lowercased() != "file" else { continue }
                    let url = parts[0].hasPrefix("/") ? URL(fileURLWithPath: parts[0]) : base.appendingPathComponent(parts[0])
                    items.append(Item(name: parts[0], url: url, reference: parts.last))
                }
            } else {
                items.append(Item(name: p, url: URL(fileURLWithPath: p), reference: nil))
            }
        }
        return items
    }

    private func wall() -> Double { var t = timespec(); clock_gettime(CLOCK_MONOTONIC, &t); return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9 }
    private func cpu() -> Double { var t = timespec(); clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9 }
    private func median(_ x: [Double]) -> Double {
        guard !x.isEmpty else { return 0 }
        let s = x.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
    private func rounded(_ x: Double, _ digits: Int = 3) -> Double { let p = pow(10.0, Double(digits)); return (x * p).rounded() / p }
    private func loadAverage() -> Double { var l = [Double](repeating: 0, count: 3); getloadavg(&l, 3); return l[0] }
}
