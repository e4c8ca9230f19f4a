import Foundation
import XCTest
@testable import LeptonRisk

/// `src_activity_share_2d` on a table small enough to follow by hand: every expected value below
/// is counted from the transfers listed, not taken from the program.
final class ActivityShareFeatureTests: XCTestCase {
    static let transfers = [
        "2022/09/01 09:00,001,P,001,S,2000.00,US Dollar,2000.00,US Dollar,ACH,0",   // 0
        "2022/09/01 09:30,001,P,001,Q,2000.00,US Dollar,2000.00,US Dollar,ACH,0",   // 1
        "2022/09/01 10:00,001,S,001,A,1000.00,US Dollar,1000.00,US Dollar,ACH,0",   // 2
        "2022/09/01 11:00,001,S,001,B,1000.00,US Dollar,1000.00,US Dollar,ACH,0",   // 3
        "2022/09/02 10:00,001,A,001,W,900.00,US Dollar,900.00,US Dollar,ACH,0",     // 4
        "2022/09/03 09:00,001,A,001,W,50.00,US Dollar,50.00,US Dollar,ACH,0",       // 5
        "2022/09/03 11:00,001,W,001,A,20.00,US Dollar,20.00,US Dollar,ACH,0",       // 6
        "2022/09/10 10:00,001,S,001,Y,10.00,US Dollar,10.00,US Dollar,ACH,0",       // 7
        "2022/09/20 10:00,001,S,001,C,500.00,US Dollar,500.00,US Dollar,ACH,0",     // 8
        "2022/09/20 10:00,001,C,001,C,400.00,US Dollar,400.00,US Dollar,Reinvestment,0", // 9
    ]

    func testSenderShareIsItsTwoDayPartOfFourteenDays() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("activity-\(getpid()).csv")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data(([TransactionTable.header] + Self.transfers).joined(separator: "\n").utf8).write(to: url)
        var t = TransactionTable()
        try t.append(csv: url.path)
        XCTAssertEqual(t.count, Self.transfers.count)
        let x = TransactionFeatures.compute(t), F = TransactionFeatures.count
        let c = try XCTUnwrap(TransactionFeatures.names.firstIndex(of: "src_activity_share_2d"))
        let share = stride(from: c, to: x.count, by: F).map { x[$0] }
        // Transfers of the sender, in and out, within 2 days of the row / within 14 days:
        //  0 P→S: P made rows 0, 1, both within 2 days                               2/2
        //  2 S→A: S has rows 0 (in), 2, 3, 7 (out; row 7 is 9 days later, row 8 19 days)
        //         within 14 days; 0, 2, 3 within 2                                   3/4
        //  4 A→W (Sept 2 10:00): A has rows 2 (in), 4, 5 (out), 6 (in), all within 2 days  4/4
        //  7 S→Y (Sept 10): S has 0, 2, 3 (9 days before), 7, 8 (10 days after) within 14;
        //         only 7 within 2                                                     1/5
        //  8 S→C (Sept 20): S has 7 and 8 within 14 days (rows 0–3 are 19 days before) 1/2
        //  9 C→C, a self-transfer, is one outgoing and one incoming transfer of C; with
        //         row 8 (in) that is 3 of 3                                           3/3
        let expected: [Int: Float] = [0: 1, 2: 0.75, 4: 1, 7: 0.2, 8: 0.5, 9: 1]
        for (row, value) in expected { XCTAssertEqual(share[row], value, accuracy: 1e-6, "row \(row)") }
    }
}
