import Foundation
import XCTest
@testable import LeptonEngine

/// Gradient recording is per thread: inference with gradients off on one thread never stops
/// another thread's training from recording its graph.
final class GradientModeTests: XCTestCase {
    func testWithoutGradientsOnOneThreadLeavesOthersRecording() {
        let rounds = 2_000
        let lock = NSLock()
        nonisolated(unsafe) var lostGraphs = 0, recordedWhileOff = 0, trainingDone = false
        let start = DispatchSemaphore(value: 0)
        let group = DispatchGroup()
        // Thread A trains: every product of a variable that needs a gradient must record.
        group.enter()
        Thread {
            start.wait()
            for i in 0..<rounds {
                let w = Variable(Tensor(shape: [2], scalars: [Float(i), 1]), requiresGrad: true)
                let y = (w * w).sum()
                if !y.requiresGrad { lock.lock(); lostGraphs += 1; lock.unlock() }
                y.backward()
                if w.grad?.scalars != [2 * Float(i), 2] { lock.lock(); lostGraphs += 1; lock.unlock() }
            }
            lock.lock(); trainingDone = true; lock.unlock()
            group.leave()
        }.start()
        // Thread B predicts with gradients off, over and over, until A is done.
        group.enter()
        Thread {
            var i = 0, signalled = false
            while true {
                lock.lock(); let stop = trainingDone; lock.unlock()
                if stop { break }
                withoutGradients {
                    if !signalled { start.signal(); signalled = true }
                    let w = Variable(Tensor(shape: [2], scalars: [Float(i), 1]), requiresGrad: true)
                    if (w * w).sum().requiresGrad { lock.lock(); recordedWhileOff += 1; lock.unlock() }
                }
                i += 1
            }
            group.leave()
        }.start()
        group.wait()
        XCTAssertEqual(lostGraphs, 0, "training lost its graph while another thread ran without gradients")
        XCTAssertEqual(recordedWhileOff, 0)
        XCTAssertTrue(GradientMode.enabled)
    }

    func testWithoutGradientsNestsAndRestoresAfterAThrow() {
        struct Boom: Error {}
        XCTAssertTrue(GradientMode.enabled)
        XCTAssertThrowsError(try withoutGradients { () throws -> Void in
            XCTAssertFalse(GradientMode.enabled)
            withoutGradients { XCTAssertFalse(GradientMode.enabled) }
            XCTAssertFalse(GradientMode.enabled)
            throw Boom()
        })
        XCTAssertTrue(GradientMode.enabled)
    }
}
