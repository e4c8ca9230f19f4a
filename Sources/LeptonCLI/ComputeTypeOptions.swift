import ArgumentParser
import Foundation
import LeptonEngine

extension ComputeType: ExpressibleByArgument {}

/// `--compute-type int8|float16|float32` (faster-whisper's name and values): how the models a
/// command loads (Whisper's encoder and decoder, the MiniLM sentence encoder) keep the weights of
/// their linear layers. Without the option, `$LEPTON_COMPUTE_TYPE`, else float32 (so a service and
/// the `respond` processes it is compared with can be switched together). A wrong value, on the
/// command line or in the variable, is a usage error (exit 64) naming the three choices.
public struct ComputeTypeOptions: ParsableArguments, Sendable {
    /// The environment variable that sets the default.
    public static let environmentVariable = "LEPTON_COMPUTE_TYPE"

    // The default stays float32: int8 is faster but approximate (its costs are measured in
    // README's compression table); float16 halves the weights' memory at float32's results.
    @Option(name: .customLong("compute-type"), help: ArgumentHelp(
        "Weights of the models' linear layers: float32, float16 (half the memory) or int8 (faster, approximate). Default: $LEPTON_COMPUTE_TYPE, else float32.",
        valueName: "type"))
    var option: ComputeType?

    public init() {}

    public func validate() throws { _ = try resolve() }

    /// The chosen compute type (checked by ``validate()`` before a command runs).
    public var computeType: ComputeType { (try? resolve()) ?? .float32 }

    func resolve() throws -> ComputeType {
        if let option { return option }
        guard let value = ProcessInfo.processInfo.environment[Self.environmentVariable], !value.isEmpty else { return .float32 }
        guard let type = ComputeType(rawValue: value) else {
            throw ValidationError("$\(Self.environmentVariable) is '\(value)'; --compute-type must be one of float32, float16, int8")
        }
        return type
    }
}
