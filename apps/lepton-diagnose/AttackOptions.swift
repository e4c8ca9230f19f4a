import ArgumentParser
import LeptonDiagnose

extension ScanAttackKind: ExpressibleByArgument {}

/// The attack settings `evaluate --attack` and `train --adversarial` share: ε in 1/255 steps of
/// the 8-bit pixel range (before normalisation) and PGD's iterations and step size.
struct AttackOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Attack radius in 1/255 of the pixel range (evaluate: a comma-separated list, default 1,2,4; train: one value).",
                                            valueName: "eps"))
    var epsilon: String?

    @Option(name: .long, help: "PGD iterations.")
    var pgdSteps: Int = 10

    @Option(name: .long, help: ArgumentHelp("PGD step size in 1/255 of the pixel range (default 2.5·ε/steps).", valueName: "size"))
    var pgdStepSize: Float?

    /// The ε values in 0…1 (`default` when `--epsilon` is not given), each 0 < ε ≤ 255.
    func epsilons(default fallback: [Float]) throws -> [Float] {
        guard let epsilon else { return fallback.map { $0 / 255 } }
        return try epsilon.split(separator: ",", omittingEmptySubsequences: false).map { part in
            guard let e = Float(part.trimmingCharacters(in: .whitespaces)), e.isFinite, e > 0, e <= 255 else {
                throw ValidationError("--epsilon takes values above 0 and at most 255 (in 1/255), got '\(part)'")
            }
            return e / 255
        }
    }

    func validate() throws {
        guard (1...1000).contains(pgdSteps) else { throw ValidationError("--pgd-steps must be between 1 and 1000") }
        if let s = pgdStepSize, !(s.isFinite && s > 0 && s <= 255) { throw ValidationError("--pgd-step-size must be above 0 and at most 255 (in 1/255)") }
        _ = try epsilons(default: [])
    }

    /// The attack at one ε (0…1).
    func attack(_ kind: ScanAttackKind, epsilon: Float, seed: UInt64) -> ScanAttack {
        ScanAttack(kind: kind, epsilon: epsilon, steps: pgdSteps, stepSize: pgdStepSize.map { $0 / 255 }, seed: seed)
    }
}
