import Foundation

/// Paths of the shared medical data, found from this file (repo/Tests/DiagnoseTests/…).
enum DiagnoseFixtures {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let medical = repo.appendingPathComponent("../shared/data/medical").standardized
    static let models = medical.appendingPathComponent("models")
    static let pneumonia = medical.appendingPathComponent("pneumoniamnist")
    static let iu = medical.appendingPathComponent("iu-xray")
    static let dicom = medical.appendingPathComponent("dicom/files")
    static let samples = repo.appendingPathComponent("samples/diagnose")

    /// The built `lepton-diagnose`, beside the test bundle in the build products.
    static var program: URL {
        var products = Bundle.main.bundleURL
        for b in Bundle.allBundles where b.bundlePath.hasSuffix(".xctest") { products = b.bundleURL.deletingLastPathComponent() }
        return products.appendingPathComponent("lepton-diagnose")
    }
}
