/// A 2-D convolution (ONNX Conv without its bias) as a linear map between
/// flattened NCHW tensors of batch 1: input index (c·H + y)·W + x.
///
/// It is applied through im2col and one GEMM per group, and transposed through
/// the same GEMM and col2im, so it costs memory proportional to the kernel and
/// the activations, never to the square of the activations as a dense matrix does.
public struct Convolution2D: Sendable, Equatable {
    public let inChannels: Int, inHeight: Int, inWidth: Int
    public let outChannels: Int, outHeight: Int, outWidth: Int
    public let kernelHeight: Int, kernelWidth: Int
    public let strideY: Int, strideX: Int
    public let padTop: Int, padLeft: Int
    public let dilationY: Int, dilationX: Int
    public let groups: Int
    /// [outChannels][inChannels/groups][kernelHeight][kernelWidth], as ONNX stores it.
    /// Read column-major, it is the (inChannels/groups·kh·kw) × outChannels matrix Kᵀ.
    public var kernel: [Double]
    /// im2col gather table of group 0 (outPixels × patch, column-major), -1 for padding;
    /// group g reads at an offset of g·channelsPerGroup·inPixels.
    private(set) var table: [Int32] = []

    public init(inChannels: Int, inHeight: Int, inWidth: Int, outChannels: Int,
                kernelHeight: Int, kernelWidth: Int, kernel: [Double],
                stride: (Int, Int) = (1, 1), pads: (top: Int, left: Int, bottom: Int, right: Int) = (0, 0, 0, 0),
                dilation: (Int, Int) = (1, 1), groups: Int = 1) {
        // The importer checks groups, strides, dilations, pads and fit before building one.
        precondition(groups >= 1 && inChannels % groups == 0 && outChannels % groups == 0, "Convolution2D: bad groups")
        precondition(stride.0 >= 1 && stride.1 >= 1 && dilation.0 >= 1 && dilation.1 >= 1
                     && min(pads.top, pads.left, pads.bottom, pads.right) >= 0
                     && kernelHeight >= 1 && kernelWidth >= 1 && outChannels >= 1, "Convolution2D: bad geometry")
        precondition(inHeight + pads.top + pads.bottom >= dilation.0 * (kernelHeight - 1) + 1
                     && inWidth + pads.left + pads.right >= dilation.1 * (kernelWidth - 1) + 1, "Convolution2D: the kernel does not fit")
        precondition(kernel.count == outChannels * (inChannels / groups) * kernelHeight * kernelWidth, "Convolution2D: kernel size")
        self.inChannels = inChannels
        self.inHeight = inHeight
        self.inWidth = inWidth
        self.outChannels = outChannels
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        strideY = stride.0
        strideX = stride.1
        padTop = pads.top
        padLeft = pads.left
        dilationY = dilation.0
        dilationX = dilation.1
        self.groups = groups
        self.kernel = kernel
        outHeight = (inHeight + pads.top + pads.bottom - dilation.0 * (kernelHeight - 1) - 1) / stride.0 + 1
        outWidth = (inWidth + pads.left + pads.right - dilation.1 * (kernelWidth - 1) - 1) / stride.1 + 1
        table = gatherTable()
    }

    public static func == (a: Convolution2D, b: Convolution2D) -> Bool {
        a.sameGeometry(as: b) && a.kernel == b.kernel
    }

    public var rows: Int { outChannels * outHeight * outWidth }
    public var cols: Int { inChannels * inHeight * inWidth }
    var channelsPerGroup: Int { inChannels / groups }
    var outPerGroup: Int { outChannels / groups }
    /// Length of one im2col row: the taps one output of one group reads.
    var patch: Int { channelsPerGroup * kernelHeight * kernelWidth }
    var outPixels: Int { outHeight * outWidth }
    var inPixels: Int { inHeight * inWidth }

    public func sameGeometry(as o: Convolution2D) -> Bool {
        inChannels == o.inChannels && inHeight == o.inHeight && inWidth == o.inWidth
            && outChannels == o.outChannels && outHeight == o.outHeight && outWidth == o.outWidth
            && kernelHeight == o.kernelHeight && kernelWidth == o.kernelWidth
            && strideY == o.strideY && strideX == o.strideX && padTop == o.padTop && padLeft == o.padLeft
            && dilationY == o.dilationY && dilationX == o.dilationX && groups == o.groups
    }

    /// The same convolution with another kernel.
    public func with(kernel k: [Double]) -> Convolution2D {
        var c = self
        // Internal: a rescaled copy of this kernel.
        precondition(k.count == kernel.count)
        c.kernel = k
        return c
    }

    /// Input index read by output pixel p through tap (channel-in-group icg, ky, kx) of group g, or -1 for padding.
    @inline(__always)
    func source(group g: Int, pixel p: Int, tap q: Int) -> Int {
        let kk = kernelHeight * kernelWidth
        let icg = q / kk, r = q % kk
        let ky = r / kernelWidth, kx = r % kernelWidth
        let oy = p / outWidth, ox = p % outWidth
        let iy = oy * strideY - padTop + ky * dilationY
        let ix = ox * strideX - padLeft + kx * dilationX
        if iy < 0 || iy >= inHeight || ix < 0 || ix >= inWidth { return -1 }
        return ((g * channelsPerGroup + icg) * inHeight + iy) * inWidth + ix
    }

    func gatherTable() -> [Int32] {
        var t = [Int32](repeating: -1, count: outPixels * patch)
        for q in 0..<patch { for p in 0..<outPixels { t[p + q * outPixels] = Int32(source(group: 0, pixel: p, tap: q)) } }
        return t
    }

    /// Output pixels per im2col tile: the buffer stays near 1 Mi values (8 MiB)
    /// however large the image, while each GEMM still has hundreds of rows.
    var tileRows: Int { max(1, min(outPixels, (1 << 20) / max(1, patch))) }

    /// y = alpha·K x + beta·y for `columns` column vectors (x: cols × k, y: rows × k, contiguous).
    public func apply(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, columns k: Int,
                      alpha: Double = 1, beta: Double = 0) {
        withBuffers { table, kernel, buffer in
            let op = outPixels, pt = patch, groupStride = channelsPerGroup * inPixels, tile = tileRows
            for c in 0..<k {
                let xc = x + c * cols, yc = y + c * rows
                for g in 0..<groups {
                    let xg = xc + g * groupStride
                    for p0 in stride(from: 0, to: op, by: tile) {
                        let r = min(tile, op - p0)
                        for q in 0..<pt {
                            for i in 0..<r { let s = Int(table[p0 + i + q * op]); buffer[i + q * r] = s >= 0 ? xg[s] : 0 }
                        }
                        // Y_g[p0..<p0+r, :] (rows of outPerGroup channels) = P_tile · Kᵀ_g
                        BLAS.gemm(m: r, n: outPerGroup, k: pt, alpha: alpha, a: buffer, lda: r, transposeA: false,
                                  b: kernel + g * outPerGroup * pt, ldb: pt, transposeB: false,
                                  beta: beta, c: yc + g * outPerGroup * op + p0, ldc: op)
                    }
                }
            }
        }
    }

    /// x = alpha·Kᵀ y + beta·x for `columns` column vectors (y: rows × k, x: cols × k).
    public func applyTranspose(_ y: UnsafePointer<Double>, _ x: UnsafeMutablePointer<Double>, columns k: Int,
                               alpha: Double = 1, beta: Double = 0) {
        withBuffers { table, kernel, buffer in
            let op = outPixels, pt = patch, groupStride = channelsPerGroup * inPixels, tile = tileRows
            for c in 0..<k {
                let xc = x + c * cols, yc = y + c * rows
                if beta == 0 { for i in 0..<cols { xc[i] = 0 } } else if beta != 1 { for i in 0..<cols { xc[i] *= beta } }
                for g in 0..<groups {
                    let xg = xc + g * groupStride
                    for p0 in stride(from: 0, to: op, by: tile) {
                        let r = min(tile, op - p0)
                        // P'_tile (r × patch) = Y_g[p0..<p0+r, :] · K_g, scattered back onto the input (col2im).
                        BLAS.gemm(m: r, n: pt, k: outPerGroup, alpha: alpha, a: yc + g * outPerGroup * op + p0, lda: op,
                                  transposeA: false, b: kernel + g * outPerGroup * pt, ldb: pt, transposeB: true,
                                  beta: 0, c: buffer, ldc: r)
                        for q in 0..<pt {
                            for i in 0..<r { let s = Int(table[p0 + i + q * op]); if s >= 0 { xg[s] += buffer[i + q * r] } }
                        }
                    }
                }
            }
        }
    }

    /// The gather table, the kernel and an im2col buffer (one tile) as pointers.
    private func withBuffers(_ body: (UnsafePointer<Int32>, UnsafePointer<Double>, UnsafeMutablePointer<Double>) -> Void) {
        var buffer = [Double](repeating: 0, count: tileRows * patch)
        table.withUnsafeBufferPointer { tp in
            kernel.withUnsafeBufferPointer { kp in
                buffer.withUnsafeMutableBufferPointer { bp in
                    if let t = tp.baseAddress, let k = kp.baseAddress, let b = bp.baseAddress { body(t, k, b) }
                }
            }
        }
    }

    /// The same map as a dense rows × cols matrix (for small layers and tests).
    public var dense: Matrix {
        var m = Matrix(rows: rows, cols: cols)
        for g in 0..<groups {
            for o in 0..<outPerGroup {
                let oc = g * outPerGroup + o
                for q in 0..<patch {
                    let w = kernel[oc * patch + q]
                    for p in 0..<outPixels {
                        let s = Int(table[p + q * outPixels])
                        if s >= 0 { m[oc * outPixels + p, s + g * channelsPerGroup * inPixels] += w }
                    }
                }
            }
        }
        return m
    }
}
