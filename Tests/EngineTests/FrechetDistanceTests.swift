import Foundation
import XCTest
@testable import LeptonEngine

/// The symmetric matrix square root and the Fréchet distance against SciPy
/// (Fixtures/make_frechet_fixture.py: `scipy.linalg.sqrtm`, pytorch-fid's formula).
final class FrechetDistanceTests: XCTestCase {
    func doubles(_ j: [String: Any], _ key: String) -> [Double] { j[key] as! [Double] }

    func testSquareRootMatchesSciPy() throws {
        let j = try XCTUnwrap(EngineFixtures.fixtureJSON("frechet_scipy.json") as? [String: Any])
        for (name, n, tolerance) in [("spd", 6, 1e-9), ("psd", 5, 1e-6)] {
            let root = try Metrics.symmetricSquareRoot(doubles(j, name), n: n)
            let worst = zip(root, doubles(j, name + "_sqrt")).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(worst, tolerance, name)
        }
    }

    func testFrechetDistanceMatchesSciPy() throws {
        let j = try XCTUnwrap(EngineFixtures.fixtureJSON("frechet_scipy.json") as? [String: Any])
        let a = doubles(j, "features1").map(Float.init), b = doubles(j, "features2").map(Float.init)
        let d = j["dimension"] as! Int
        let (mean, cov) = try Metrics.meanAndCovariance(a, dimension: d)
        XCTAssertLessThan(zip(mean, doubles(j, "mean1")).map { abs($0 - $1) }.max()!, 1e-6)
        XCTAssertLessThan(zip(cov, doubles(j, "cov1")).map { abs($0 - $1) }.max()!, 1e-5)
        let expected = j["frechet"] as! Double
        XCTAssertEqual(try Metrics.frechetDistance(a, b, dimension: d), expected, accuracy: 1e-4 * max(1, abs(expected)))
        // Identical sets are at distance 0 (up to round-off).
        XCTAssertEqual(try Metrics.frechetDistance(a, a, dimension: d), 0, accuracy: 1e-6)
    }

    func testBadMatricesAreErrors() {
        XCTAssertThrowsError(try Metrics.symmetricSquareRoot([1, 2, 3, 4], n: 2))       // not symmetric
        XCTAssertThrowsError(try Metrics.symmetricSquareRoot([1, 0, 0, -1], n: 2))      // indefinite
        XCTAssertThrowsError(try Metrics.symmetricSquareRoot([1, .nan, .nan, 1], n: 2)) // not finite
        XCTAssertThrowsError(try Metrics.meanAndCovariance([1, 2, 3], dimension: 3))    // one row
    }
}
