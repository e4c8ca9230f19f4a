import CBLAS
import Foundation

/// The Fréchet distance between feature distributions (as FID, Heusel et al. 2017, on any
/// network's features) and what it needs: mean and covariance, and a symmetric matrix square
/// root through LAPACK's eigensolver (`dsyevd`, in OpenBLAS). Matrices are dense, row-major,
/// in Double.
extension Metrics {
    /// Eigenvalues (ascending) and eigenvectors of a symmetric `n×n` matrix: `vectors[j·n + i]`
    /// is entry `i` of the eigenvector of `values[j]`.
    /// - Throws: `invalidArgument` for a wrong size, a non-finite or non-symmetric entry, or a
    ///   LAPACK failure.
    public static func symmetricEigen(_ a: [Double], n: Int) throws -> (values: [Double], vectors: [Double]) {
        guard n > 0, a.count == n * n else { throw MetricsError.invalidArgument("a \(n)×\(n) matrix needs \(n * n) entries, got \(a.count)") }
        guard a.allSatisfy(\.isFinite) else { throw MetricsError.invalidArgument("the matrix has a non-finite entry") }
        let scale = a.map(abs).max() ?? 0
        for i in 0..<n { for j in (i + 1)..<n where abs(a[i * n + j] - a[j * n + i]) > 1e-9 * Swift.max(scale, 1e-300) {
            throw MetricsError.invalidArgument("the matrix is not symmetric at (\(i), \(j))")
        } }
        var m = a, w = [Double](repeating: 0, count: n)
        var dim = Int32(n), lda = Int32(n), info: Int32 = 0, lwork: Int32 = -1, liwork: Int32 = -1
        var workSize = 0.0, iworkSize: Int32 = 0
        let jobz = Int8(UInt8(ascii: "V")), uplo = Int8(UInt8(ascii: "U"))
        var jz = jobz, ul = uplo
        // Workspace query, then the decomposition (a symmetric matrix reads the same in either order).
        dsyevd_(&jz, &ul, &dim, &m, &lda, &w, &workSize, &lwork, &iworkSize, &liwork, &info)
        guard info == 0 else { throw MetricsError.invalidArgument("LAPACK dsyevd workspace query failed (info \(info))") }
        lwork = Int32(workSize); liwork = iworkSize
        var work = [Double](repeating: 0, count: Int(lwork)), iwork = [Int32](repeating: 0, count: Int(liwork))
        dsyevd_(&jz, &ul, &dim, &m, &lda, &w, &work, &lwork, &iwork, &liwork, &info)
        guard info == 0 else { throw MetricsError.invalidArgument("LAPACK dsyevd did not converge (info \(info))") }
        return (w, m)
    }

    /// The principal square root `V·diag(√λ)·Vᵀ` of a symmetric positive semi-definite matrix;
    /// eigenvalues below zero by round-off (down to `−1e-10·λmax`) count as zero.
    /// - Throws: `invalidArgument` for a matrix that is not symmetric or clearly indefinite.
    public static func symmetricSquareRoot(_ a: [Double], n: Int) throws -> [Double] {
        let (values, vectors) = try symmetricEigen(a, n: n)
        let top = values.map(abs).max() ?? 0
        if let low = values.first, low < -1e-10 * top {
            throw MetricsError.invalidArgument("the matrix is not positive semi-definite (eigenvalue \(low))")
        }
        // `vectors` is V in column-major order (column j = eigenvector j); scale its columns by √λ
        // and multiply by Vᵀ. The result is symmetric, so its layout does not matter.
        var scaled = vectors
        for j in 0..<n { let s = Swift.max(values[j], 0).squareRoot(); for i in 0..<n { scaled[j * n + i] *= s } }
        var out = [Double](repeating: 0, count: n * n)
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(n), Int32(n), 1, scaled, Int32(n),
                    vectors, Int32(n), 0, &out, Int32(n))
        return out
    }

    /// Mean and covariance (unbiased, `numpy.cov(x, rowvar=False)`) of `count` rows of `d` features.
    public static func meanAndCovariance(_ x: [Float], dimension d: Int) throws -> (mean: [Double], covariance: [Double]) {
        guard d > 0, x.count % d == 0, x.count / d >= 2 else {
            throw MetricsError.invalidArgument("covariance needs at least 2 rows of \(d) features, got \(x.count) values")
        }
        let rows = x.count / d
        var mean = [Double](repeating: 0, count: d)
        for r in 0..<rows { for j in 0..<d { mean[j] += Double(x[r * d + j]) } }
        for j in 0..<d { mean[j] /= Double(rows) }
        var centred = [Double](repeating: 0, count: x.count)
        for r in 0..<rows { for j in 0..<d { centred[r * d + j] = Double(x[r * d + j]) - mean[j] } }
        var cov = [Double](repeating: 0, count: d * d)
        // Σ = Xcᵀ·Xc / (rows − 1), Xc row-major [rows, d].
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(d), Int32(d), Int32(rows), 1 / Double(rows - 1), centred, Int32(d),
                    centred, Int32(d), 0, &cov, Int32(d))
        return (mean, cov)
    }

    /// The Fréchet distance between the Gaussians `N(μ₁, Σ₁)` and `N(μ₂, Σ₂)`:
    /// `|μ₁ − μ₂|² + tr Σ₁ + tr Σ₂ − 2·tr √(Σ₁Σ₂)`. `Σ₁Σ₂` is similar to the symmetric
    /// `√Σ₁·Σ₂·√Σ₁`, so its square root's trace is that of a symmetric square root (no
    /// non-symmetric one is needed).
    public static func frechetDistance(mean1: [Double], covariance1: [Double], mean2: [Double], covariance2: [Double]) throws -> Double {
        let d = mean1.count
        guard mean2.count == d, covariance1.count == d * d, covariance2.count == d * d else {
            throw MetricsError.lengthMismatch(what: "Fréchet distance", expected: d * d, found: covariance2.count)
        }
        let root1 = try symmetricSquareRoot(covariance1, n: d)
        var tmp = [Double](repeating: 0, count: d * d), inner = [Double](repeating: 0, count: d * d)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(d), Int32(d), Int32(d), 1, root1, Int32(d), covariance2, Int32(d),
                    0, &tmp, Int32(d))
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(d), Int32(d), Int32(d), 1, tmp, Int32(d), root1, Int32(d),
                    0, &inner, Int32(d))
        // Symmetrise away round-off before the symmetric solver.
        for i in 0..<d { for j in (i + 1)..<d { let v = (inner[i * d + j] + inner[j * d + i]) / 2; inner[i * d + j] = v; inner[j * d + i] = v } }
        let (values, _) = try symmetricEigen(inner, n: d)
        let traceRoot = values.reduce(0) { $0 + Swift.max($1, 0).squareRoot() }
        var distance = 0.0
        for j in 0..<d { let diff = mean1[j] - mean2[j]; distance += diff * diff + covariance1[j * d + j] + covariance2[j * d + j] }
        return distance - 2 * traceRoot
    }

    /// The Fréchet distance between two sets of feature rows (`[count, d]` each).
    public static func frechetDistance(_ a: [Float], _ b: [Float], dimension d: Int) throws -> Double {
        let (m1, c1) = try meanAndCovariance(a, dimension: d), (m2, c2) = try meanAndCovariance(b, dimension: d)
        return try frechetDistance(mean1: m1, covariance1: c1, mean2: m2, covariance2: c2)
    }
}
