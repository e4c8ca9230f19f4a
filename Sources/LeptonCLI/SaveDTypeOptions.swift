import ArgumentParser
import LeptonEngine

extension SaveDType: ExpressibleByArgument {}

/// `--save-dtype float32|float16|bfloat16`, on every command that saves a model: the type its
/// weights are stored in. Float16 and bfloat16 halve the files; models still compute in Float32
/// (weights are widened when loaded). A weight too large for float16 (> 65504) is an error naming
/// it, not a silent infinity.
///
/// ```sh
/// lepton-diagnose train --labels labels.csv --out model --save-dtype float16
/// ```
public struct SaveDTypeOptions: ParsableArguments, Sendable {
    @Option(name: .customLong("save-dtype"), help: ArgumentHelp(
        "Store the model's weights as float32, float16 or bfloat16 (half the size; loaded back as float32).",
        valueName: "type"))
    public var saveDType: SaveDType = .float32

    public init() {}
}
