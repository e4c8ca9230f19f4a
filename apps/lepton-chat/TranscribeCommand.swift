import ArgumentParser
import Foundation
import LeptonAudio
import LeptonCLI
import LeptonEngine
import LeptonVoice
import LeptonSpeech

struct TranscribeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transcribe",
        abstract: "Speech to text with Whisper tiny.en (any audio libsndfile reads; phone audio is resampled).",
        discussion: """
        Each FILE is decoded to 16 kHz mono, cut into 30 s windows and decoded with beam search \
        (as faster-whisper does: temperature fallback, no-speech detection, timestamps). Memory \
        stays bounded by one window however long the file is. With --corpus, a trigram language \
        model of the given sentences is added to the beam search's scores (shallow fusion, \
        weight --corpus-weight), so that murky audio is read as the domain's words.

        Output: txt (default) prints each transcript on stdout, one line per file; json prints one \
        JSON object per file (`file`, `text`, `duration`, `segments[{start,end,text,tokens,…}]`, \
        with --readings N also `readings[{text,log_probability}]`, the N best readings); \
        srt and vtt print subtitles; tsv prints `start`, `end` (milliseconds) and `text` per segment, \
        as the whisper CLI does. A FILE of - is read from stdin (written as `stdin.*` with -o). \
        With -o DIR, each file's output is written to DIR/NAME.EXT \
        instead; `-f all` writes txt, json, srt, vtt and tsv (to DIR, or to the current folder).

        Decoding options carry faster-whisper's names and defaults. A long recording whose later \
        windows go wrong (the text drifts into repeating itself, or a window's speech is dropped) \
        often reads better with --condition-on-previous-text false: each window is then decoded \
        without the previous window's words as its prompt. --word-timestamps times every word from \
        the model's cross-attention, as faster-whisper's word_timestamps=True does.

        --vad decodes only the speech, as faster-whisper's vad_filter=True does: Silero VAD v6 \
        (scripts/bootstrap.sh fetches it) gives every 32 ms window a speech probability, stretches \
        of speech are kept with --vad-speech-pad-ms either side (silence, music and line noise \
        between them are skipped), decoded back to back, and the times moved back to the file's. \
        The --vad-… options carry faster-whisper's VadOptions names and defaults.

        --stream transcribes one FILE, or a 16 kHz 16-bit WAV arriving on stdin (-), as a live call: \
        audio is read --chunk-ms at a time (with --realtime a FILE is read at the pace it plays), \
        and JSON lines {"type","start","end","text"} are printed as it goes: a "partial" with the \
        text so far of an utterance still being spoken every --partial-interval-ms of new audio, and \
        the "final" segments of each utterance once --vad-min-silence-ms of silence follows it \
        (lower it, e.g. 500, for quicker finals). The utterances are those --vad finds in the same \
        audio, each decoded on its own.

        A file that cannot be read, or whose audio is damaged or cut short, is reported on stderr \
        (one line naming it) and the batch goes on. Two inputs that would write the same output \
        name (a/x.wav b/x.wav, or x.wav x.flac, with -o or -f all) are refused before any work. \
        With -f json each object also names the model that made it (`model`: name, version, sha256). \
        Exit status: 0 all files transcribed, 3 some failed, 1 all failed (or the only file) or the \
        model could not be loaded, 64 usage error. With --shard i/N only the files k (0-based, in \
        the order given) with k mod N = i are transcribed, one line each (txt or json on stdout, \
        or any format with -o), and `lepton-chat merge` joins the shards' stdout as one run's. \
        The model is found where scripts/bootstrap.sh put it \
        (~/.cache/lepton/models/whisper-tiny.en, or $LEPTON_MODELS) unless --model is given.

        Examples:
          lepton-chat transcribe samples/chat/jfk.wav
          lepton-chat transcribe -f json ../shared/data/speech/dev/jfk.wav
          lepton-chat transcribe -f srt -o /tmp/subs samples/chat/jfk.wav
          lepton-chat transcribe -f srt --word-timestamps --max-words-per-line 4 \\
              ../shared/data/speech/dev/jfk.wav
          lepton-chat transcribe --split-channels --channel-labels agent,caller \\
              --word-timestamps -f srt --max-words-per-line 6 \\
              samples/chat/call-stereo.wav
          lepton-chat transcribe -f tsv --condition-on-previous-text false \\
              --temperatures 0,0.4,0.8 - < samples/chat/jfk.wav
          lepton-chat transcribe -f all -o /tmp/transcripts samples/chat/jfk.wav \\
              samples/chat/jfk_tel8k.wav --beam-size 1 --threads 1
          lepton-chat transcribe --prompt "PIN, balance, debit card, loan" \\
              ../shared/data/speech/bank-dev/change_pin_02.wav
            # "How do I reset the PIN on my debit card?" (without: "the BIN")
          lepton-chat transcribe -f json --readings 3 \\
              ../shared/data/speech/bank-dev/speak_to_agent_01_tel8k.wav
          lepton-chat transcribe --corpus samples/bank/model/asr-corpus.txt \\
              ../shared/data/speech/bank-dev/exchange_rate_02_tel8k.wav
            # "How many yen will I get for 500 pounds?" (without: "How many
            # of you, and will I get four, five, five, three pounds?")
          lepton-chat transcribe \\
              --phone-band-map samples/bank/phone-band.safetensors \\
              ../shared/data/speech/bank-dev/change_pin_02_tel8k.wav
            # "How do I reset the PIN on my debit card?" (without: "I'll do
            # my reference, but if I add on my NAB, it's card.")
          lepton-chat transcribe --compute-type int8 samples/chat/jfk.wav
            # int8 weights: faster, approximate (float16: half the memory)
          lepton-chat transcribe --vad -f json ../shared/data/speech/dev/jfk.wav
          lepton-chat transcribe --stream --vad-min-silence-ms 500 samples/chat/jfk.wav
            # {"type":"partial",…} lines while it is spoken, then {"type":"final",…}
        """)

    @Argument(help: "Audio files (WAV, FLAC, OGG, … any rate, any channels); - reads one file from stdin.")
    var files: [String] = []

    @Option(name: .shortAndLong, help: "txt, json, srt, vtt, tsv or all.")
    var format: String = "txt"

    @Option(name: .shortAndLong, help: "Write one output file per input into this folder.")
    var output: String?

    @Flag(name: .long, help: "Transcribe each channel of a stereo call on its own (agent on one, caller on the other) and interleave the turns by time, each labelled with its speaker.")
    var splitChannels = false

    @Option(name: .long, help: ArgumentHelp("With --split-channels: the speaker of each channel, in order (default: channel 1,channel 2,…).", valueName: "a,b"))
    var channelLabels: String?

    @Option(name: .long, help: "With --word-timestamps and -f srt or vtt: cues of at most N words, each timed by its words.")
    var maxWordsPerLine: Int?

    @Option(name: .long, help: "Beam width (1 = greedy).")
    var beamSize: Int = 5

    @Option(name: .long, help: "With -f json: also list the N best readings of each file (n-best, at most --beam-size).")
    var readings: Int = 1

    @Option(name: .long, help: "For files sampled at 8 kHz or less (phone audio): gain at which their band is mirrored into the empty 4-8 kHz band before recognition (0 = off; an experiment, not a measured gain).")
    var narrowbandFold: Float = 0

    @Option(name: .long, help: ArgumentHelp("For files sampled at 8 kHz or less (phone audio): a map from `lepton-chat train-phone-band` that brings their features towards wideband ones before recognition.", valueName: "file"))
    var phoneBandMap: String?

    @Option(name: .long, help: "Whisper model folder (model.bin, config.json, vocabulary.txt).")
    var model: String?

    @Option(name: .long, help: "Initial prompt: words the speakers are likely to use (as faster-whisper's initial_prompt).")
    var prompt: String?

    @Option(name: .long, help: ArgumentHelp("Sentences of the domain, one per line (e.g. an agent's model/asr-corpus.txt): a trigram language model of them is fused into the beam search.", valueName: "file"))
    var corpus: String?

    @Option(name: .long, help: "Weight of the --corpus language model (0 = off).")
    var corpusWeight: Float = 0.3

    @OptionGroup(title: "Decoding (as faster-whisper names them)") var decoding: DecodingOptions

    @OptionGroup(title: "Voice-activity filter (faster-whisper's vad_filter and VadOptions)") var voiceActivity: VoiceActivityOptions

    @OptionGroup(title: "Live transcription") var streaming: StreamingOptions

    @OptionGroup var compute: ComputeTypeOptions
    @OptionGroup var common: CommonOptions

    @OptionGroup var seeding: SeedOptions

    @OptionGroup var sharding: ShardOptions

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("give at least one audio FILE") }
        guard format == "all" || TranscriptFormat(rawValue: format) != nil else {
            throw ValidationError("-f must be txt, json, srt, vtt, tsv or all")
        }
        guard files.filter({ $0 == "-" }).count <= 1 else { throw ValidationError("- (stdin) can be given once") }
        if channelLabels != nil, !splitChannels { throw ValidationError("--channel-labels needs --split-channels") }
        if let channelLabels, channelLabels.split(separator: ",", omittingEmptySubsequences: false).contains(where: {
            $0.trimmingCharacters(in: .whitespaces).isEmpty || $0.count > 40 }) {
            throw ValidationError("--channel-labels must be comma-separated names of 1 to 40 characters")
        }
        if let maxWordsPerLine {
            guard (1...100).contains(maxWordsPerLine) else { throw ValidationError("--max-words-per-line must be 1...100") }
            guard decoding.wordTimestamps else { throw ValidationError("--max-words-per-line needs --word-timestamps") }
        }
        guard (0...1).contains(narrowbandFold) else { throw ValidationError("--narrowband-fold must be in [0, 1]") }
        guard (0...2).contains(corpusWeight) else { throw ValidationError("--corpus-weight must be in [0, 2]") }
        guard (1...16).contains(beamSize) else { throw ValidationError("--beam-size must be 1...16") }
        guard (1...beamSize).contains(readings) else { throw ValidationError("--readings must be 1...\(beamSize) (the beam size)") }
        if voiceActivity.tuned && !voiceActivity.vad && !streaming.stream { throw ValidationError("--vad-… options need --vad (or --stream)") }
        if streaming.stream {
            guard files.count == 1 else { throw ValidationError("--stream takes one FILE (or -)") }
            guard format == "txt" || format == "json", output == nil, sharding.shard == nil, !splitChannels, readings == 1, !decoding.wordTimestamps else {
                throw ValidationError("--stream prints JSON lines on stdout: no -f other than json, -o, --shard, --split-channels, --readings or --word-timestamps")
            }
        }
    }

    func run() throws {
        try runCommand("lepton-chat", common) {
            let formats: [TranscriptFormat] = format == "all" ? TranscriptFormat.allCases : [TranscriptFormat(rawValue: format)!]
            let outputDir: URL? = output.map { URL(fileURLWithPath: $0) } ?? (format == "all" ? URL(fileURLWithPath: ".") : nil)
            let shard = try sharding.parsed()
            // On stdout a shard's lines are merged by position: one line per file, txt or json.
            if shard != nil, outputDir == nil, !["txt", "json"].contains(format) || (splitChannels && format == "txt") {
                throw CLIFailure.usage("--shard prints one line per file with -f txt or json (json with --split-channels); write \(format) with -o DIR")
            }
            let batch = shard?.select(files) ?? files
            // Before any work: two inputs named alike would silently overwrite each other's output.
            if outputDir != nil, let clash = TranscribeCommand.outputClash(files) {
                throw CLIFailure.usage("\(clash.0) and \(clash.1) would both be written to \(clash.stem).* in \(outputDir!.path); "
                                       + "transcribe them into separate folders")
            }
            EngineThreads.set(common.threads)
            if let dir = outputDir {
                do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
                    throw CLIFailure.input("cannot create \(dir.path): \(describe(error))")
                }
            }
            let whisper: WhisperModel
            do {
                whisper = try WhisperModel(directory: model.map { URL(fileURLWithPath: $0) } ?? ModelCache.whisperTinyEn,
                                           computeType: compute.computeType)
            } catch {
                throw CLIFailure.input("\(error)" + (model == nil ? " (run scripts/bootstrap.sh, or pass --model)" : ""))
            }
            // JSON names the weights that made it (hashing model.bin costs a fraction of a second).
            let identity = formats.contains(.json) ? try whisper.identity() : nil
            var options = WhisperTranscribeOptions()
            if let phoneBandMap {
                do { options.phoneBandMap = try WhisperPhoneBandMap(contentsOf: URL(fileURLWithPath: phoneBandMap)) } catch {
                    throw CLIFailure.input("--phone-band-map: \(error)")
                }
            }
            options.beamSize = beamSize
            options.narrowbandFoldGain = narrowbandFold
            options.seed = seeding.seed
            options.initialPrompt = prompt
            options.readings = readings
            try decoding.apply(to: &options)
            if let corpus {
                do {
                    let texts = try RecognizerCorpus.read(file: URL(fileURLWithPath: corpus))
                    options.languageModel = try RecognizerCorpus.languageModel(texts, whisper: whisper)
                    options.languageModelWeight = corpusWeight
                    Log.debug("language model of \(options.languageModel!.sentenceCount) sentences from \(corpus)")
                } catch {
                    throw CLIFailure.input("--corpus: \(error)")
                }
            }
            let transcriber = WhisperTranscriber(model: whisper, options: options)
            let filter = try voiceActivity.filter(always: streaming.stream)
            if streaming.stream, let filter { return try runStream(files[0], transcriber: transcriber, filter: filter) }
            do { _ = try transcriber.initialPromptTokens() } catch {
                throw CLIFailure.input("--prompt: \(error)")
            }

            guard !batch.isEmpty else { Log.info("shard \(shard!.index)/\(shard!.count): no files (\(files.count) in all)"); return }
            var failed = 0
            var progress = ProgressReporter(label: "transcribe", total: batch.count, unit: "files")
            for path in batch {
                let started = Date()
                do {
                    let result = try path == "-" ? StandardInputAudio.withFile { try transcribe($0, with: transcriber, filter: filter) }
                                                 : transcribe(URL(fileURLWithPath: path), with: transcriber, filter: filter)
                    Log.debug("\(path): \(String(format: "%.1f", result.duration)) s of audio in \(String(format: "%.2f", Date().timeIntervalSince(started))) s")
                    for f in formats {
                        let rendered = result.rendered(as: f, file: path, model: identity, maxWordsPerLine: maxWordsPerLine)
                        if let dir = outputDir {
                            try writeAtomically(Data(rendered.utf8), to: dir.appendingPathComponent("\(TranscribeCommand.stem(path)).\(f.fileExtension)"))
                        } else {
                            FileHandle.standardOutput.write(Data(rendered.utf8))
                        }
                    }
                } catch {
                    failed += 1
                    // In a batch the others go on; each failure is one line naming its file.
                    if batch.count > 1 { Log.error(errorLine("lepton-chat", describe(error))) } else { throw error }
                }
                if batch.count > 1 { progress.advance() }
            }
            if batch.count > 1 { progress.finish(failed > 0 ? "\(failed) failed" : "") }
            if failed == batch.count { throw CLIFailure.input("all \(failed) files failed") }
            if failed > 0 { throw CLIFailure.partial("\(failed) of \(batch.count) files failed") }
        }
    }

    /// One file's transcript: as one signal, or with --split-channels channel by channel, interleaved.
    func transcribe(_ url: URL, with transcriber: WhisperTranscriber, filter: VoiceActivityFilter?) throws -> WhisperTranscription {
        /// One signal (or channel): through the voice-activity filter when there is one.
        func heard(_ channel: Int?) throws -> WhisperTranscription {
            guard let filter else { return try transcriber.transcribe(url: url, channel: channel) }
            let r = try transcriber.transcribe(url: url, channel: channel, filter: filter)
            Log.debug("\(url.lastPathComponent)\(channel.map { " channel \($0 + 1)" } ?? ""): VAD kept \(String(format: "%.1f", r.speechDuration)) of "
                      + "\(String(format: "%.1f", r.transcription.duration)) s in \(r.speech.count) stretches (\(String(format: "%.2f", r.vadSeconds)) s)")
            return r.transcription
        }
        guard splitChannels else { return try heard(nil) }
        let channels: Int
        do { channels = try AudioReader(url: url).info.channels } catch { throw CLIFailure.input(describe(error)) }
        let given = channelLabels?.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) } ?? []
        let parts = try (0..<channels).map { c in
            (label: c < given.count ? given[c] : "channel \(c + 1)", transcript: try heard(c))
        }
        return .interleaving(parts)
    }

    /// The output name of an input: its file name without the extension.
    static func stem(_ path: String) -> String {
        path == "-" ? "stdin" : URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
    }

    /// The first two inputs whose outputs would share a name (`a/x.wav b/x.wav`, `x.wav x.flac`), if any.
    static func outputClash(_ files: [String]) -> (String, String, stem: String)? {
        var first: [String: String] = [:]
        for path in files {
            let s = stem(path)
            if let earlier = first[s] { return (earlier, path, s) }
            first[s] = path
        }
        return nil
    }
}
