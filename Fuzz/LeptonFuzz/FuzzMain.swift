// FuzzMain.swift: `lepton-fuzz`, the coverage-guided fuzzer over Lepton's file decoders.
//
// Built by scripts/fuzz.sh with `-sanitize=fuzzer,address -D LEPTON_LIBFUZZER`: our own `main`
// picks the target, then hands control to libFuzzer through LLVMFuzzerRunDriver (so one binary
// holds every target and libFuzzer flags pass through unchanged). The target travels in the
// environment (LEPTON_FUZZ_TARGET) because libFuzzer re-executes itself for -minimize_crash and
// -fork with the flags only. Built without that define, the same binary replays inputs, which
// reproduces a finding outside the sanitizer build.
//
//   lepton-fuzz --list
//   lepton-fuzz seeds DIR                 # generated seeds (audio formats, weight files) into DIR/<target>/
//   lepton-fuzz TARGET [libFuzzer flags] [corpus dirs or files]

import Foundation

#if LEPTON_LIBFUZZER
typealias FuzzCallback = @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: FuzzCallback) -> Int32

/// The target libFuzzer calls into; set once before the driver starts.
nonisolated(unsafe) var selectedTarget: FuzzTarget!
#endif

@main
enum LeptonFuzz {
    static func main() {
        var args = CommandLine.arguments
        if args.count >= 2, args[1] == "--list" {
            for t in fuzzTargets { print("\(t.name)\t\(t.maxLength)\t\(t.summary)") }
            return
        }
        if args.count == 3, args[1] == "seeds" {
            do { try FuzzSeeds.write(to: URL(fileURLWithPath: args[2])) } catch {
                FileHandle.standardError.write(Data("lepton-fuzz: error: \(error)\n".utf8))
                exit(1)
            }
            return
        }
        if args.count >= 2, fuzzTargets.contains(where: { $0.name == args[1] }) {
            setenv("LEPTON_FUZZ_TARGET", args[1], 1)
            args.remove(at: 1)
        }
        guard let name = ProcessInfo.processInfo.environment["LEPTON_FUZZ_TARGET"],
              let target = fuzzTargets.first(where: { $0.name == name }) else {
            let names = fuzzTargets.map(\.name).joined(separator: "|")
            FileHandle.standardError.write(Data("usage: lepton-fuzz --list | seeds DIR | (\(names)) [flags] [inputs]\n".utf8))
            exit(64)
        }
        #if LEPTON_LIBFUZZER
        selectedTarget = target
        var argc = Int32(args.count)
        let cArgs = args.map { strdup($0) } + [nil]
        let argv = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: cArgs.count)
        argv.initialize(from: cArgs, count: cArgs.count)
        var argvPointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
        exit(LLVMFuzzerRunDriver(&argc, &argvPointer) { data, size in
            selectedTarget.run(UnsafeBufferPointer(start: data, count: size))
            return 0
        })
        #else
        // Replay: every file named (or every file in a folder named) goes through the target once.
        for path in args.dropFirst() {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { continue }
            let files = isDir.boolValue
                ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 }
                : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                data.withUnsafeBytes { target.run($0.bindMemory(to: UInt8.self)) }
                print("ok \(file)")
            }
        }
        #endif
    }
}
