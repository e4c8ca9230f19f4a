import Foundation
import LeptonEngine

// Operators that move elements or describe shapes. Float tensors take the engine's own
// reshape/permute/slice/concat/gather; integers and booleans (masks, shape arithmetic, mostly
// folded at load) go through a flat index map.

extension Operators {
    static func registerLayout(_ t: inout [String: Compiler]) {
        t["Shape"] = { ctx in
            let x = try ctx.input(0)
            let r = x.shape.count
            func clampAxis(_ a: Int64) -> Int { let v = a < 0 ? Int(a) + r : Int(clamping: a); return Swift.min(Swift.max(v, 0), r) }
            let start = clampAxis(ctx.int("start", 0)), end = clampAxis(ctx.int("end", Int64(r)))
            let dims = start < end ? x.shape[start..<end].map(Int64.init) : []
            var k = single([dims.count], .int64) { _ in .int64(IntTensor(shape: [dims.count], values: dims)) }
            k.shapeOnly = true
            return k
        }
        t["Size"] = { ctx in
            let n = Int64(try ctx.input(0).shape.reduce(1, *))
            var k = single([], .int64) { _ in .int64(IntTensor(shape: [], values: [n])) }
            k.shapeOnly = true
            return k
        }
        t["Constant"] = { ctx in
            let value: ONNXValue
            switch (ctx.node.attributes["value"], ctx.node.attributes["value_float"], ctx.node.attributes["value_int"],
                    ctx.node.attributes["value_floats"], ctx.node.attributes["value_ints"]) {
            case let (.tensor(v)?, _, _, _, _): value = v
            case let (_, .float(f)?, _, _, _): value = .float(Tensor(scalar: f))
            case let (_, _, .int(i)?, _, _): value = .int64(IntTensor(shape: [], values: [i]))
            case let (_, _, _, .floats(f)?, _): value = .float(Tensor(shape: [f.count], scalars: f))
            case let (_, _, _, _, .ints(i)?): value = .int64(IntTensor(shape: [i.count], values: i))
            default: throw ctx.unsupported("only value, value_float(s) and value_int(s) constants are implemented")
            }
            return single(value.shape, value.type) { _ in value }
        }
        t["ConstantOfShape"] = { ctx in
            let shape = try ctx.checked(try ctx.constant(0, "the shape").integers.map { Int(clamping: $0) })
            var fill: ONNXValue = .float(Tensor(shape: [1], repeating: 0))
            if case let .tensor(v)? = ctx.node.attributes["value"] { fill = v }
            guard fill.shape.reduce(1, *) == 1 else { throw ctx.mismatch("value must hold one element") }
            let type = fill.type, element = fill.integers[0], f = fill.floats[0]
            return single(shape, type) { _ in
                type == .float ? .float(Tensor(shape: shape, repeating: f)) : ONNXValue.make(type, shape: shape, ints: [Int64](repeating: element, count: shape.reduce(1, *)))
            }
        }
        t["Range"] = { ctx in
            let start = try ctx.constant(0, "start"), limit = try ctx.constant(1, "limit"), delta = try ctx.constant(2, "delta")
            let type = start.type
            let (s, l, d) = (Double(start.floats.first ?? 0), Double(limit.floats.first ?? 0), Double(delta.floats.first ?? 0))
            guard d != 0 else { throw ctx.mismatch("delta is 0") }
            let n = Swift.max(0, Int(((l - s) / d).rounded(.up)))
            let out = try ctx.checked([n])
            let values = (0..<n).map { s + Double($0) * d }
            return single(out, type) { _ in
                type == .float ? .float(Tensor(shape: out, scalars: values.map(Float.init))) : ONNXValue.make(type, shape: out, ints: values.map { Int64($0) })
            }
        }
        t["Reshape"] = { ctx in
            let x = try ctx.input(0)
            let spec = try ctx.constant(1, "the target shape").integers
            let allowZero = ctx.int("allowzero", 0) != 0
            var shape = spec.enumerated().map { i, d -> Int in (d == 0 && !allowZero && i < x.shape.count) ? x.shape[i] : Int(clamping: d) }
            let count = x.shape.reduce(1, *)
            if let i = shape.firstIndex(of: -1) {
                let known = shape.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
                guard known > 0, count % known == 0 else { throw ctx.mismatch("cannot reshape \(x.shape) to \(spec)") }
                shape[i] = count / known
            }
            guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == count else { throw ctx.mismatch("cannot reshape \(x.shape) to \(spec)") }
            return reshape(x, to: shape)
        }
        t["Flatten"] = { ctx in
            let x = try ctx.input(0)
            let a = ctx.int("axis", 1)
            let axis = a < 0 ? Int(a) + x.shape.count : Int(clamping: a)
            guard axis >= 0 && axis <= x.shape.count else { throw ctx.mismatch("axis \(a) out of range for rank \(x.shape.count)") }
            return reshape(x, to: [x.shape[..<axis].reduce(1, *), x.shape[axis...].reduce(1, *)])
        }
        t["Unsqueeze"] = { ctx in
            let x = try ctx.input(0)
            let axes = ctx.opset >= 13 ? try ctx.constant(1, "axes").integers : (ctx.ints("axes") ?? [])
            let rank = x.shape.count + axes.count
            let normal = try Set(axes.map { try ctx.axis($0, rank: rank) })
            guard normal.count == axes.count else { throw ctx.mismatch("repeated axis in \(axes)") }
            var shape: [Int] = [], it = x.shape.makeIterator()
            for i in 0..<rank { shape.append(normal.contains(i) ? 1 : it.next()!) }
            return reshape(x, to: shape)
        }
        t["Squeeze"] = { ctx in
            let x = try ctx.input(0)
            let given: [Int64]? = ctx.opset >= 13 ? (ctx.optional(1) != nil ? try ctx.constant(1, "axes").integers : nil) : ctx.ints("axes")
            let axes = try given.map { try Set($0.map { try ctx.axis($0, rank: x.shape.count) }) } ?? Set(x.shape.indices.filter { x.shape[$0] == 1 })
            for a in axes where x.shape[a] != 1 { throw ctx.mismatch("cannot squeeze axis \(a) of extent \(x.shape[a])") }
            return reshape(x, to: x.shape.indices.filter { !axes.contains($0) }.map { x.shape[$0] })
        }
        t["Transpose"] = { ctx in
            let x = try ctx.input(0)
            let perm = try (ctx.ints("perm") ?? x.shape.indices.reversed().map(Int64.init)).map { try ctx.axis($0, rank: x.shape.count) }
            guard Set(perm).count == x.shape.count else { throw ctx.mismatch("perm \(perm) is not a permutation of \(x.shape.count) axes") }
            let shape = perm.map { x.shape[$0] }
            if x.type == .float {
                return single(shape, variable: { try variableArg($0, 0).permuted(perm) }) { .float(floatArg($0, 0).permuted(perm)) }
            }
            return single(shape, x.type) { Layout.take($0[0]!, Layout.permutation(x.shape, perm), shape: shape) }
        }
        t["Concat"] = { ctx in
            let parts = ctx.inputs.compactMap { $0 }
            guard let first = parts.first else { throw ctx.mismatch("no inputs") }
            let axis = try ctx.axis(ctx.int("axis", 0), rank: first.shape.count)
            for p in parts {
                guard p.type == first.type, p.shape.count == first.shape.count,
                      p.shape.indices.allSatisfy({ $0 == axis || p.shape[$0] == first.shape[$0] }) else {
                    throw ctx.mismatch("cannot concatenate \(parts.map(\.shape)) on axis \(axis)")
                }
            }
            var shape = first.shape
            shape[axis] = parts.reduce(0) { $0 + $1.shape[axis] }
            let out = try ctx.checked(shape), type = first.type
            if type == .float {
                return single(out, variable: { try Variable.concat($0.compactMap { $0 }, axis: axis) }) {
                    .float(Tensor.concat($0.compactMap { $0?.floatTensor }, axis: axis))
                }
            }
            let outer = first.shape[..<axis].reduce(1, *)
            return single(out, type) { args in
                var values: [Int64] = []
                values.reserveCapacity(out.reduce(1, *))
                let pieces = args.compactMap { $0 }
                for b in 0..<outer {
                    for p in pieces {
                        let len = p.shape[axis...].reduce(1, *)
                        values.append(contentsOf: p.integers[(b * len)..<((b + 1) * len)])
                    }
                }
                return ONNXValue.make(type, shape: out, ints: values)
            }
        }
        t["Slice"] = { ctx in
            let x = try ctx.input(0)
            let r = x.shape.count
            let starts = try ctx.constant(1, "starts").integers, ends = try ctx.constant(2, "ends").integers
            let axesIn = ctx.optional(3) != nil ? try ctx.constant(3, "axes").integers : (0..<Int64(starts.count)).map { $0 }
            let stepsIn = ctx.optional(4) != nil ? try ctx.constant(4, "steps").integers : [Int64](repeating: 1, count: starts.count)
            guard starts.count == ends.count, axesIn.count == starts.count, stepsIn.count == starts.count else {
                throw ctx.mismatch("starts, ends, axes and steps differ in length")
            }
            var starting = [Int](repeating: 0, count: r), stepping = [Int](repeating: 1, count: r), shape = x.shape
            for k in starts.indices {
                let a = try ctx.axis(axesIn[k], rank: r), n = Int64(x.shape[a]), s = stepsIn[k]
                guard s != 0 else { throw ctx.mismatch("step 0") }
                func clamp(_ v: Int64, _ low: Int64, _ high: Int64) -> Int64 { Swift.min(Swift.max(v < 0 ? v + n : v, low), high) }
                let b = s > 0 ? clamp(starts[k], 0, n) : clamp(starts[k], 0, n - 1)
                let e = s > 0 ? clamp(ends[k], 0, n) : clamp(ends[k], -1, n - 1)
                let len = s > 0 ? Swift.max(0, (e - b + s - 1) / s) : Swift.max(0, (b - e + (-s) - 1) / (-s))
                starting[a] = Int(b); stepping[a] = Int(s); shape[a] = Int(len)
            }
            let out = try ctx.checked(shape)
            let (lo, step) = (starting, stepping)
            if x.type == .float && step.allSatisfy({ $0 == 1 }) {
                let cuts = (0..<r).filter { out[$0] != x.shape[$0] }
                return single(out, variable: { args in
                    var v = try variableArg(args, 0)
                    for a in cuts { v = v.slice(axis: a, start: lo[a], end: lo[a] + out[a]) }
                    return v
                }) { args in
                    var v = floatArg(args, 0)
                    for a in cuts { v = v.slice(axis: a, start: lo[a], end: lo[a] + out[a]) }
                    return .float(v)
                }
            }
            let strides = Layout.strides(x.shape)
            let offset = (0..<r).reduce(0) { $0 + lo[$1] * strides[$1] }
            return single(out, x.type) { args in
                Layout.take(args[0]!, Layout.broadcastLike(out, (0..<r).map { strides[$0] * step[$0] }).map { $0 + offset }, shape: out)
            }
        }
        t["Gather"] = { ctx in
            let data = try ctx.input(0), idx = try ctx.input(1)
            guard idx.type == .int64 else { throw ctx.mismatch("indices are \(idx.type.rawValue), integers expected") }
            let axis = try ctx.axis(ctx.int("axis", 0), rank: data.shape.count)
            let n = data.shape[axis]
            let out = try ctx.checked(Array(data.shape[..<axis]) + idx.shape + Array(data.shape[(axis + 1)...]))
            let node = ctx.node.name, indicesName = ctx.node.inputs[1]
            @Sendable func indices(_ v: ONNXValue) throws -> [Int] {
                try v.integers.map { i in
                    let j = i < 0 ? i + Int64(n) : i
                    guard j >= 0 && j < Int64(n) else {
                        throw ONNXError.badInput(name: indicesName, reason: "index \(i) is out of range for \(n) entries (node '\(node)')")
                    }
                    return Int(j)
                }
            }
            if data.type == .float && axis == 0 {
                // Embedding lookup: whole rows through the engine's gather.
                return single(out) { args in .float(floatArg(args, 0).gatherRows(try indices(args[1]!)).reshaped(out)) }
            }
            let outer = data.shape[..<axis].reduce(1, *), inner = data.shape[(axis + 1)...].reduce(1, *)
            return single(out, data.type) { args in
                let ids = try indices(args[1]!)
                var flat: [Int] = []
                flat.reserveCapacity(out.reduce(1, *))
                for b in 0..<outer { for i in ids { for j in 0..<inner { flat.append((b * n + i) * inner + j) } } }
                return Layout.take(args[0]!, flat, shape: out)
            }
        }
        t["GatherElements"] = { ctx in
            let data = try ctx.input(0), idx = try ctx.input(1)
            guard idx.type == .int64, idx.shape.count == data.shape.count else { throw ctx.mismatch("indices \(idx.shape) for data \(data.shape)") }
            let axis = try ctx.axis(ctx.int("axis", 0), rank: data.shape.count)
            let out = try ctx.checked(idx.shape), n = data.shape[axis]
            let strides = Layout.strides(data.shape)
            let node = ctx.node.name, indicesName = ctx.node.inputs[1]
            return single(out, data.type) { args in
                let ids = args[1]!.integers
                // Position of each index element along every axis but `axis`, in the data's strides.
                var base = Layout.broadcastLike(out, (0..<out.count).map { $0 == axis ? 0 : strides[$0] })
                for k in base.indices {
                    let i = ids[k] < 0 ? ids[k] + Int64(n) : ids[k]
                    guard i >= 0 && i < Int64(n) else {
                        throw ONNXError.badInput(name: indicesName, reason: "index \(ids[k]) is out of range for \(n) entries (node '\(node)')")
                    }
                    base[k] += Int(i) * strides[axis]
                }
                return Layout.take(args[0]!, base, shape: out)
            }
        }
        t["Expand"] = { ctx in
            let x = try ctx.input(0)
            let target = try ctx.constant(1, "the shape").integers.map { Int(clamping: $0) }
            guard let shape = broadcastShape(x.shape, target) else { throw ctx.mismatch("cannot expand \(x.shape) to \(target)") }
            let out = try ctx.checked(shape)
            return single(out, x.type) { Layout.take($0[0]!, Layout.broadcastIndices(x.shape, to: out), shape: out) }
        }
    }

    /// The same elements under `shape` (no copy for floats).
    static func reshape(_ x: PlanSymbol, to shape: [Int]) -> Kernel {
        single(shape, x.type, variable: { try variableArg($0, 0).reshaped(shape) }) { args in
            switch args[0]! {
            case let .float(t): return .float(t.reshaped(shape))
            case let .int64(t): return .int64(IntTensor(shape: shape, values: t.values))
            case let .bool(t): return .bool(IntTensor(shape: shape, values: t.values))
            }
        }
    }
}
