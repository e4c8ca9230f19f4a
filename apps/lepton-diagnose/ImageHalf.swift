import ArgumentParser
import LeptonDiagnose

/// Every other validation row: `even` (positions 0, 2, …) chooses settings, `odd` (1, 3, …)
/// measures what was chosen (``LabeledImages/half(odd:)``).
enum ImageHalf: String, ExpressibleByArgument, CaseIterable {
    case even, odd
}

extension ScanArchitecture: ExpressibleByArgument {}
extension EpochSelection: ExpressibleByArgument {}
