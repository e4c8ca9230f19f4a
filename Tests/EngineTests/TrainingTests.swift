import XCTest
@testable import LeptonEngine

final class LossAndOptimizerTests: XCTestCase {
    func t(_ k: String) -> Tensor { KernelFixtures.tensor("losses", k) }
    func num(_ k: String) -> Float { Float(KernelFixtures.group("losses")[k] as? Double ?? .nan) }

    func testLossValuesAgainstNumPy() {
        let g = KernelFixtures.group("losses")
        let targets = g["targets"] as? [Int] ?? [], cw = (g["class_weights"] as? [Double] ?? []).map(Float.init)
        let logits = Variable(t("logits"))
        XCTAssertEqual(crossEntropy(logits, targets: targets).value[flat: 0], num("ce_plain"), accuracy: 1e-5)
        XCTAssertEqual(crossEntropy(logits, targets: targets, classWeights: cw, labelSmoothing: 0.1).value[flat: 0],
                       num("ce_weighted_smooth"), accuracy: 1e-5)
        XCTAssertEqual(binaryCrossEntropyWithLogits(Variable(t("x")), targets: t("y"), positiveWeight: 3).value[flat: 0],
                       num("bce_pos3"), accuracy: 1e-5)
        XCTAssertEqual(sigmoidFocalLoss(Variable(t("x")), targets: t("y")).value[flat: 0], num("focal"), accuracy: 1e-5)
        XCTAssertEqual(focalLoss(logits, targets: targets, classWeights: cw).value[flat: 0], num("focal_mc"), accuracy: 1e-5)
        XCTAssertEqual(mseLoss(Variable(t("pred")), t("y")).value[flat: 0], num("mse"), accuracy: 1e-5)
        // Extreme logits stay finite.
        let big = Variable(Tensor(shape: [1, 2], scalars: [1000, -1000]))
        XCTAssertEqual(crossEntropy(big, targets: [1]).value[flat: 0], 2000, accuracy: 1e-2)
        XCTAssertEqual(binaryCrossEntropyWithLogits(Variable(Tensor(shape: [1], scalars: [-200])), targets: Tensor(shape: [1], scalars: [1])).value[flat: 0], 200, accuracy: 1e-3)
    }

    func testBatchNormTrainingStatistics() {
        let bn = BatchNorm2d(2)
        let y = bn(Variable(KernelFixtures.tensor("batch_norm_train", "x")))
        assertClose(y.value, KernelFixtures.tensor("batch_norm_train", "y"), tol: 1e-4)
        assertClose(bn.runningMean.value, KernelFixtures.tensor("batch_norm_train", "running_mean"), tol: 1e-5)
        assertClose(bn.runningVar.value, KernelFixtures.tensor("batch_norm_train", "running_var"), tol: 1e-5)
        // Evaluation mode uses (and keeps) the running statistics.
        bn.setTraining(false)
        let before = bn.runningMean.value.scalars
        let x = Tensor(shape: [1, 2, 1, 1], scalars: [1, 1])
        let e = bn(Variable(x)).value
        let expect0 = (1 - before[0]) / (bn.runningVar.value[flat: 0] + 1e-5).squareRoot()
        XCTAssertEqual(e[flat: 0], expect0, accuracy: 1e-5)
        XCTAssertEqual(bn.runningMean.value.scalars, before)
    }

    func testOptimizerStepsByHand() {
        // SGD with momentum 0.9, lr 0.1, constant gradient 0.5: v = 0.5, 0.95; p = 0.95, 0.855.
        let p = Variable(Tensor(shape: [1], scalars: [1]), requiresGrad: true)
        let sgd = SGD([p], learningRate: 0.1, momentum: 0.9)
        for expected: Float in [0.95, 0.855] { p.grad = Tensor(shape: [1], scalars: [0.5]); sgd.step(); XCTAssertEqual(p.value[flat: 0], expected, accuracy: 1e-6) }
        // Adam's first step moves each coordinate by lr·sign(g).
        let q = Variable(Tensor(shape: [2], scalars: [1, 1]), requiresGrad: true)
        let adam = Adam([q], learningRate: 0.1)
        q.grad = Tensor(shape: [2], scalars: [0.3, -7]); adam.step()
        XCTAssertEqual(q.value.scalars[0], 0.9, accuracy: 1e-5); XCTAssertEqual(q.value.scalars[1], 1.1, accuracy: 1e-5)
        // AdamW decays first: 1 − 0.1·0.5·1 = 0.95, then the Adam step −0.1.
        let w = Variable(Tensor(shape: [1], scalars: [1]), requiresGrad: true)
        let adamw = AdamW([w], learningRate: 0.1, weightDecay: 0.5)
        w.grad = Tensor(shape: [1], scalars: [2]); adamw.step()
        XCTAssertEqual(w.value[flat: 0], 0.85, accuracy: 1e-5)
        // SGD weight decay adds wd·p to the gradient: 1 − 0.1·(0 + 0.5·1) = 0.95.
        let d = Variable(Tensor(shape: [1], scalars: [1]), requiresGrad: true)
        let sgdwd = SGD([d], learningRate: 0.1, weightDecay: 0.5)
        d.grad = Tensor(shape: [1], scalars: [0]); sgdwd.step()
        XCTAssertEqual(d.value[flat: 0], 0.95, accuracy: 1e-6)
    }

    /// AdamByName (the optimizer of layers with a hand-written backward) against Adam/AdamW
    /// written out in Double (Kingma & Ba 2015; decoupled decay, Loshchilov & Hutter 2019) over
    /// five steps of two parameters visited by name, with moments kept apart per name.
    func testAdamByNameMatchesTheFormulaInDouble() {
        for decoupled in [true, false] {
            var opt = AdamByName(learningRate: 0.05, weightDecay: 0.1, decoupled: decoupled)
            var a = Tensor(shape: [3], scalars: [1, -2, 0.5]), b = Tensor(shape: [2], scalars: [0.3, 4])
            var ref: [String: (p: [Double], m: [Double], v: [Double])] = [
                "a": (a.scalars.map(Double.init), [0, 0, 0], [0, 0, 0]), "b": (b.scalars.map(Double.init), [0, 0], [0, 0])]
            for step in 1...5 {
                let ga = Tensor(shape: [3], scalars: [0.2 * Float(step), -1, 3]), gb = Tensor(shape: [2], scalars: [-0.5, Float(step)])
                opt.beginStep()
                opt.update("a", &a, ga); opt.update("b", &b, gb)
                for (name, g) in [("a", ga), ("b", gb)] {
                    var r = ref[name]!
                    for j in r.p.indices {
                        var gj = Double(g[flat: j])
                        if decoupled { r.p[j] -= 0.05 * 0.1 * r.p[j] } else { gj += 0.1 * r.p[j] }
                        r.m[j] = 0.9 * r.m[j] + 0.1 * gj
                        r.v[j] = 0.999 * r.v[j] + 0.001 * gj * gj
                        let mh = r.m[j] / (1 - pow(0.9, Double(step))), vh = r.v[j] / (1 - pow(0.999, Double(step)))
                        r.p[j] -= 0.05 * mh / (vh.squareRoot() + 1e-8)
                    }
                    ref[name] = r
                }
            }
            for (name, t) in [("a", a), ("b", b)] {
                for (x, y) in zip(t.scalars, ref[name]!.p) { XCTAssertEqual(Double(x), y, accuracy: 1e-5, "\(name) decoupled \(decoupled)") }
            }
        }
    }

    func testGradientClippingAndSchedules() {
        let a = Variable(Tensor(shape: [1], scalars: [0]), requiresGrad: true), b = Variable(Tensor(shape: [1], scalars: [0]), requiresGrad: true)
        a.grad = Tensor(shape: [1], scalars: [3]); b.grad = Tensor(shape: [1], scalars: [4])
        XCTAssertEqual(clipGradNorm([a, b], maxNorm: 1), 5, accuracy: 1e-6)
        XCTAssertEqual(a.grad![flat: 0], 0.6, accuracy: 1e-5); XCTAssertEqual(b.grad![flat: 0], 0.8, accuracy: 1e-5)
        let step = StepSchedule(base: 1, stepSize: 2, gamma: 0.5)
        XCTAssertEqual((0..<5).map { step.learningRate(at: $0) }, [1, 1, 0.5, 0.5, 0.25])
        let cosine = CosineSchedule(base: 1, totalSteps: 10)
        XCTAssertEqual(cosine.learningRate(at: 0), 1, accuracy: 1e-6)
        XCTAssertEqual(cosine.learningRate(at: 5), 0.5, accuracy: 1e-6)
        XCTAssertEqual(cosine.learningRate(at: 10), 0, accuracy: 1e-6)
        let warm = LinearWarmup(warmupSteps: 4, then: ConstantSchedule(1))
        XCTAssertEqual([0, 1, 3, 4, 9].map { warm.learningRate(at: $0) }, [0.25, 0.5, 1, 1, 1])
        XCTAssertEqual(LinearSchedule(base: 1, end: 0, totalSteps: 4).learningRate(at: 1), 0.75, accuracy: 1e-6)
    }

    func testStrictStateDictByName() throws {
        var rng = SeededGenerator(seed: 1)
        let model = Sequential([("fc", Linear(3, 2, rng: &rng) as any Layer), ("bn", BatchNorm1d(2)), ("act", ReLU())])
        let state = model.stateDict()
        XCTAssertEqual(Set(state.keys), ["fc.weight", "fc.bias", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"])
        XCTAssertEqual(model.namedParameters().map(\.0), ["fc.weight", "fc.bias", "bn.weight", "bn.bias"])
        var rng2 = SeededGenerator(seed: 2)
        let other = Sequential([("fc", Linear(3, 2, rng: &rng2) as any Layer), ("bn", BatchNorm1d(2)), ("act", ReLU())])
        try other.loadStateDict(state)
        XCTAssertEqual(other.stateDict()["fc.weight"]!.scalars, state["fc.weight"]!.scalars)
        var missing = state; missing["bn.running_var"] = nil
        XCTAssertThrowsError(try other.loadStateDict(missing)) { XCTAssertEqual($0 as? ModuleError, .missingWeight("bn.running_var")) }
        var extra = state; extra["fc.scale"] = Tensor.ones([2])
        XCTAssertThrowsError(try other.loadStateDict(extra)) { XCTAssertEqual($0 as? ModuleError, .unusedWeight("fc.scale")) }
        XCTAssertNoThrow(try other.loadStateDict(extra, ignoring: { $0 == "fc.scale" }))
        var wrong = state; wrong["fc.bias"] = Tensor.ones([3])
        XCTAssertThrowsError(try other.loadStateDict(wrong)) {
            XCTAssertEqual($0 as? ModuleError, .shapeMismatch(name: "fc.bias", expected: [2], found: [3]))
            XCTAssertTrue("\($0)".contains("fc.bias"))
        }
    }
}

final class TrainingConvergenceTests: XCTestCase {
    /// scikit-learn's `make_moons` construction: two interleaved half circles plus N(0, noise²).
    static func twoMoons(_ n: Int, noise: Float, rng: inout SeededGenerator) -> (Tensor, [Int]) {
        var xs: [Float] = [], ys: [Int] = []
        for i in 0..<n {
            let t = Float.pi * rng.nextUniform()
            if i % 2 == 0 { xs += [cosf(t), sinf(t)]; ys.append(0) } else { xs += [1 - cosf(t), 0.5 - sinf(t)]; ys.append(1) }
            xs[xs.count - 2] += noise * rng.nextNormal(); xs[xs.count - 1] += noise * rng.nextNormal()
        }
        return (Tensor(shape: [n, 2], scalars: xs), ys)
    }

    static func accuracy(_ logits: Tensor, _ y: [Int]) -> Float {
        let pred = logits.argmax(axis: 1)
        return Float(zip(pred, y).filter { $0 == $1 }.count) / Float(y.count)
    }

    func testMLPLearnsTwoMoons() {
        var rng = SeededGenerator(seed: 2024)
        let (xTrain, yTrain) = Self.twoMoons(512, noise: 0.1, rng: &rng)
        let (xTest, yTest) = Self.twoMoons(512, noise: 0.1, rng: &rng)
        let model = Sequential([Linear(2, 32, rng: &rng), ReLU(), Linear(32, 32, rng: &rng), ReLU(), Linear(32, 2, rng: &rng)])
        let opt = Adam(model.parameters(), learningRate: 0.02)
        let schedule = CosineSchedule(base: 0.02, totalSteps: 400, minimum: 0.001)
        for step in 0..<400 {
            opt.learningRate = schedule.learningRate(at: step)
            let loss = crossEntropy(model(Variable(xTrain)), targets: yTrain)
            opt.zeroGrad()
            loss.backward()
            opt.step()
        }
        model.setTraining(false)
        let acc = Self.accuracy(withoutGradients { model(Variable(xTest)) }.value, yTest)
        print("two-moons test accuracy \(acc)")
        XCTAssertGreaterThanOrEqual(acc, 0.97, "two-moons test accuracy \(acc)")
    }

    /// 12×12 images holding one horizontal (class 0) or vertical (class 1) bar of random position
    /// and length 6–12, plus N(0, 0.5²) pixel noise.
    static func bars(_ n: Int, rng: inout SeededGenerator) -> (Tensor, [Int]) {
        let s = 12
        var px = [Float](repeating: 0, count: n * s * s), ys: [Int] = []
        for i in 0..<n {
            let vertical = rng.nextUniform() < 0.5
            let pos = Int(rng.next() % UInt64(s)), len = 6 + Int(rng.next() % 7), start = Int(rng.next() % UInt64(s - len + 1))
            for k in start..<(start + len) { px[i * s * s + (vertical ? k * s + pos : pos * s + k)] = 1 }
            for j in 0..<(s * s) { px[i * s * s + j] += 0.5 * rng.nextNormal() }
            ys.append(vertical ? 1 : 0)
        }
        return (Tensor(shape: [n, 1, s, s], scalars: px), ys)
    }

    func testSmallCNNLearnsBarOrientation() {
        var rng = SeededGenerator(seed: 77)
        let (xTrain, yTrain) = Self.bars(384, rng: &rng)
        let (xTest, yTest) = Self.bars(256, rng: &rng)
        let model = Sequential([
            Conv2d(1, 8, kernel: 3, padding: 1, rng: &rng), BatchNorm2d(8), ReLU(), MaxPool2d(kernel: (2, 2)),
            // A 6×6 max pool = global max: a bar is a small, local pattern, which averaging would dilute.
            Conv2d(8, 16, kernel: 3, padding: 1, rng: &rng), ReLU(), MaxPool2d(kernel: (6, 6)), Flatten(), Dropout(0.1, seed: 9),
            Linear(16, 2, rng: &rng),
        ])
        let opt = AdamW(model.parameters(), learningRate: 0.01, weightDecay: 1e-4)
        let batch = 32, epochs = 16
        let schedule = LinearWarmup(warmupSteps: 12, then: CosineSchedule(base: 0.01, totalSteps: epochs * 12 - 12, minimum: 2e-4))
        var step = 0
        for _ in 0..<epochs {
            var order = Array(0..<384)
            order.shuffle(using: &rng)
            for b in stride(from: 0, to: 384, by: batch) {
                let idx = Array(order[b..<(b + batch)])
                opt.learningRate = schedule.learningRate(at: step); step += 1
                let xb = xTrain.reshaped([384, 144]).gatherRows(idx).reshaped([batch, 1, 12, 12])
                let loss = crossEntropy(model(Variable(xb)), targets: idx.map { yTrain[$0] }, labelSmoothing: 0.05)
                opt.zeroGrad()
                loss.backward()
                clipGradNorm(model.parameters(), maxNorm: 5)
                opt.step()
            }
        }
        model.setTraining(false)
        let acc = Self.accuracy(withoutGradients { model(Variable(xTest)) }.value, yTest)
        print("bar-orientation test accuracy \(acc)")
        XCTAssertGreaterThanOrEqual(acc, 0.95, "bar-orientation test accuracy \(acc)")
    }
}
