import Foundation
import LeptonEngine

// Element-wise operators: float tensors go through the engine's broadcasting arithmetic and
// activations (Tensor+Elementwise, VectorMath); integers and booleans (shape arithmetic, masks)
// through a broadcast index map.

extension Operators {
    static func registerElementwise(_ t: inout [String: Compiler]) {
        t["Add"] = { try arithmetic($0, +, { $0 &+ $1 }, { $0 + $1 }) }
        t["Sub"] = { try arithmetic($0, -, { $0 &- $1 }, { $0 - $1 }) }
        t["Mul"] = { try arithmetic($0, *, { $0 &* $1 }, { $0 * $1 }) }
        t["Div"] = { ctx in
            try arithmetic(ctx, /, { a, b in b == 0 ? 0 : a / b }, { $0 / $1 })
        }
        t["Relu"] = { try unary($0, { $0.relu() }, { $0.relu() }) }
        t["Sigmoid"] = { try unary($0, { $0.sigmoid() }, { $0.sigmoid() }) }
        t["Tanh"] = { try unary($0, { $0.tanh() }, { $0.tanh() }) }
        t["Exp"] = { try unary($0, { $0.exp() }, { $0.exp() }) }
        t["Log"] = { try unary($0, { $0.log() }, { $0.log() }) }
        t["Sqrt"] = { try unary($0, { $0.sqrt() }, { $0.sqrt() }) }
        t["Neg"] = { try unary($0, { -$0 }, { $0 * -1 }) }
        t["Abs"] = { try unary($0, { $0.abs() }, nil) }
        t["Erf"] = { try unary($0, erf, nil) }
        t["Gelu"] = { ctx in
            switch ctx.string("approximate", "none") {
            case "none": return try unary(ctx, { $0.gelu() }, { $0.gelu() })
            case "tanh": return try unary(ctx, { $0.geluTanh() }, nil)
            case let other: throw ctx.unsupported("approximate=\(other)")
            }
        }
        t["Pow"] = { ctx in
            let e = try ctx.constant(1, "the exponent").floats
            guard e.count == 1 else { throw ctx.unsupported("only a scalar exponent is implemented") }
            switch e[0] {
            case 1: return try unary(ctx, { $0 }, { $0 })
            case 2: return try unary(ctx, { $0.squared() }, { $0.squared() })
            case 3: return try unary(ctx, { $0.squared() * $0 }, { $0.squared() * $0 })
            case 0.5: return try unary(ctx, { $0.sqrt() }, { $0.sqrt() })
            default: throw ctx.unsupported("exponent \(e[0]) (1, 2, 3 and 0.5 are implemented)")
            }
        }
        t["Clip"] = { ctx in
            var low = -Float.infinity, high = Float.infinity
            if ctx.opset < 11 {
                low = ctx.float("min", low); high = ctx.float("max", high)
            } else {
                if ctx.optional(1) != nil { low = try ctx.constant(1, "min").floats.first ?? low }
                if ctx.optional(2) != nil { high = try ctx.constant(2, "max").floats.first ?? high }
            }
            if low == 0 && high == .infinity { return try unary(ctx, { $0.relu() }, { $0.relu() }) }
            let bounds = (low, high)
            return try unary(ctx, { $0.clamped(bounds.0, bounds.1) }, nil)
        }
        t["Identity"] = { ctx in
            let x = try ctx.input(0)
            return single(x.shape, x.type, variable: { try variableArg($0, 0) }) { $0[0]! }
        }
        t["Cast"] = { ctx in
            let x = try ctx.input(0)
            let target: ONNXElementType
            switch ctx.int("to", 1) {
            case 1: target = .float
            case 6, 7: target = .int64
            case 9: target = .bool
            case let other: throw ctx.unsupported("cast to element type \(other)")
            }
            return single(x.shape, target) { $0[0]!.cast(to: target) }
        }
        t["Equal"] = { try compare($0) { $0 == $1 } }
        t["Greater"] = { try compare($0) { $0 > $1 } }
        t["GreaterOrEqual"] = { try compare($0) { $0 >= $1 } }
        t["Less"] = { try compare($0) { $0 < $1 } }
        t["LessOrEqual"] = { try compare($0) { $0 <= $1 } }
        t["And"] = { try logical($0) { $0 != 0 && $1 != 0 } }
        t["Or"] = { try logical($0) { $0 != 0 || $1 != 0 } }
        t["Not"] = { ctx in
            let x = try ctx.input(0)
            guard x.type == .bool else { throw ctx.mismatch("Not needs a bool input, got \(x.type.rawValue)") }
            return single(x.shape, .bool) { .bool(IntTensor(shape: x.shape, values: $0[0]!.integers.map { $0 != 0 ? 0 : 1 })) }
        }
        t["Where"] = { ctx in
            let c = try ctx.input(0), x = try ctx.input(1), y = try ctx.input(2)
            guard c.type == .bool else { throw ctx.mismatch("condition is \(c.type.rawValue), bool expected") }
            guard x.type == y.type else { throw ctx.mismatch("branches are \(x.type.rawValue) and \(y.type.rawValue)") }
            guard let xy = broadcastShape(x.shape, y.shape), let shape = broadcastShape(c.shape, xy) else {
                throw ctx.mismatch("cannot broadcast \(c.shape), \(x.shape) and \(y.shape)")
            }
            let out = try ctx.checked(shape), type = x.type
            return single(out, type) { args in
                let ic = Layout.broadcastIndices(c.shape, to: out), ix = Layout.broadcastIndices(x.shape, to: out)
                let iy = Layout.broadcastIndices(y.shape, to: out)
                let cond = args[0]!.integers
                if type == .float {
                    let xs = args[1]!.floats, ys = args[2]!.floats
                    return .float(Tensor(shape: out, scalars: (0..<ic.count).map { cond[ic[$0]] != 0 ? xs[ix[$0]] : ys[iy[$0]] }))
                }
                let xs = args[1]!.integers, ys = args[2]!.integers
                return ONNXValue.make(type, shape: out, ints: (0..<ic.count).map { cond[ic[$0]] != 0 ? xs[ix[$0]] : ys[iy[$0]] })
            }
        }
    }

    /// A float → float operator of one input (optionally with its gradient through ``Variable``).
    static func unary(_ ctx: OpContext, _ f: @escaping @Sendable (Tensor) -> Tensor,
                      _ v: (@Sendable (Variable) -> Variable)?) throws -> Kernel {
        let x = try ctx.float(0)
        var variable: (@Sendable ([Variable?]) throws -> Variable)? = nil
        if let v { variable = { args in v(try variableArg(args, 0)) } }
        return single(x.shape, variable: variable) { .float(f(floatArg($0, 0))) }
    }

    /// Broadcasting arithmetic: the engine's operators for floats, `integer` for int64.
    static func arithmetic(_ ctx: OpContext, _ float: @escaping @Sendable (Tensor, Tensor) -> Tensor,
                           _ integer: @escaping @Sendable (Int64, Int64) -> Int64,
                           _ variable: @escaping @Sendable (Variable, Variable) -> Variable) throws -> Kernel {
        let a = try ctx.input(0), b = try ctx.input(1)
        guard a.type == b.type else { throw ctx.mismatch("inputs are \(a.type.rawValue) and \(b.type.rawValue)") }
        guard let shape = broadcastShape(a.shape, b.shape) else { throw ctx.mismatch("cannot broadcast \(a.shape) with \(b.shape)") }
        let out = try ctx.checked(shape)
        if a.type == .float {
            return single(out, variable: { variable(try variableArg($0, 0), try variableArg($0, 1)) }) {
                .float(float(floatArg($0, 0), floatArg($0, 1)))
            }
        }
        let type = a.type
        return single(out, type) { args in
            let ia = Layout.broadcastIndices(a.shape, to: out), ib = Layout.broadcastIndices(b.shape, to: out)
            let xa = args[0]!.integers, xb = args[1]!.integers
            return ONNXValue.make(type, shape: out, ints: (0..<ia.count).map { integer(xa[ia[$0]], xb[ib[$0]]) })
        }
    }

    /// A broadcasting comparison giving bools (floats compared as floats, integers as integers).
    static func compare(_ ctx: OpContext, _ f: @escaping @Sendable (Double, Double) -> Bool) throws -> Kernel {
        let a = try ctx.input(0), b = try ctx.input(1)
        guard let shape = broadcastShape(a.shape, b.shape) else { throw ctx.mismatch("cannot broadcast \(a.shape) with \(b.shape)") }
        let out = try ctx.checked(shape)
        return single(out, .bool) { args in
            let ia = Layout.broadcastIndices(a.shape, to: out), ib = Layout.broadcastIndices(b.shape, to: out)
            let xa = args[0]!.type == .float ? args[0]!.floats.map(Double.init) : args[0]!.integers.map(Double.init)
            let xb = args[1]!.type == .float ? args[1]!.floats.map(Double.init) : args[1]!.integers.map(Double.init)
            return .bool(IntTensor(shape: out, values: (0..<ia.count).map { f(xa[ia[$0]], xb[ib[$0]]) ? 1 : 0 }))
        }
    }

    static func logical(_ ctx: OpContext, _ f: @escaping @Sendable (Int64, Int64) -> Bool) throws -> Kernel {
        let a = try ctx.input(0), b = try ctx.input(1)
        guard a.type == .bool && b.type == .bool else { throw ctx.mismatch("inputs are \(a.type.rawValue) and \(b.type.rawValue), bool expected") }
        guard let shape = broadcastShape(a.shape, b.shape) else { throw ctx.mismatch("cannot broadcast \(a.shape) with \(b.shape)") }
        let out = try ctx.checked(shape)
        return single(out, .bool) { args in
            let ia = Layout.broadcastIndices(a.shape, to: out), ib = Layout.broadcastIndices(b.shape, to: out)
            let xa = args[0]!.integers, xb = args[1]!.integers
            return .bool(IntTensor(shape: out, values: (0..<ia.count).map { f(xa[ia[$0]], xb[ib[$0]]) ? 1 : 0 }))
        }
    }

    /// `erf` through the engine's ``VectorMath/erf8(_:)`` (absolute error ≤ 2e-6), 8 lanes at a time.
    @Sendable static func erf(_ x: Tensor) -> Tensor {
        Tensor(shape: x.shape) { o in
            x.withUnsafeBufferPointer { a in
                let n = a.count
                guard n > 0 else { return }
                nonisolated(unsafe) let (pa, po) = (a.baseAddress!, o.baseAddress!)
                parallelChunks(n / 8, grain: 2048) { lo, hi in
                    for i in lo..<hi { VectorMath.store(VectorMath.erf8(VectorMath.load(pa + 8 * i)), po + 8 * i) }
                }
                let tail = n / 8 * 8
                if tail < n {
                    var v = VectorMath.V(repeating: 0)
                    for j in 0..<(n - tail) { v[j] = pa[tail + j] }
                    let r = VectorMath.erf8(v)
                    for j in 0..<(n - tail) { po[tail + j] = r[j] }
                }
            }
        }
    }
}
