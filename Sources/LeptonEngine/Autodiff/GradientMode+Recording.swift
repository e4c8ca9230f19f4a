import Foundation

/// Runs `body` with gradient recording on, on this thread or task only, even inside
/// ``withoutGradients(_:)``: for the few inference-time computations that need a gradient with
/// respect to the input (adversarial attacks, saliency), while the weights stay constants.
@discardableResult
public func withGradients<R>(_ body: () throws -> R) rethrows -> R {
    try GradientMode.$recording.withValue(true) { try body() }
}
