import XCTest
@testable import LeptonEngine

final class TensorTests: XCTestCase {
    func testMatmulAgainstHandComputedProduct() {
        // [[1,2,3],[4,5,6]] · [[7,8],[9,10],[11,12]] = [[58,64],[139,154]]
        let a = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        let b = Tensor(shape: [3, 2], scalars: [7, 8, 9, 10, 11, 12])
        XCTAssertEqual(a.matmul(b).scalars, [58, 64, 139, 154])
        XCTAssertEqual(a.matmul(b.reshaped([2, 3]), transposeOther: true).shape, [2, 2])
    }

    func testCopyOnWrite() {
        let a = Tensor(shape: [2], scalars: [1, 2])
        var b = a
        b[flat: 0] = 9
        XCTAssertEqual(a.scalars, [1, 2])
        XCTAssertEqual(b.scalars, [9, 2])
    }
}
