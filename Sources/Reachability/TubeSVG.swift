import Foundation

/// A 2-D picture of a reach tube: each step's box hull, sampled trajectories
/// and the unsafe sets, projected on two state coordinates.
public enum TubeSVG {
    public static func render(_ tube: ReachTube, system: SystemDescription, trajectories: [[[Double]]],
                              dims: (Int, Int)) -> String {
        let (i, j) = dims
        var xs: [Double] = [], ys: [Double] = []
        for s in tube.steps where s.lower[i].isFinite && s.upper[i].isFinite {
            xs += [s.lower[i], s.upper[i]]
            ys += [s.lower[j], s.upper[j]]
        }
        for (lo, hi) in periodBoxes(tube) where lo[i].isFinite && hi[i].isFinite && lo[j].isFinite && hi[j].isFinite {
            xs += [lo[i], hi[i]]
            ys += [lo[j], hi[j]]
        }
        for tr in trajectories { for x in tr { xs.append(x[i]); ys.append(x[j]) } }
        // Bring axis-aligned unsafe boundaries nearby into view, so the margin shows.
        if let dataX0 = xs.min(), let dataX1 = xs.max(), let dataY0 = ys.min(), let dataY1 = ys.max() {
            for set in system.unsafe {
                for (r, row) in set.h.enumerated() where row.enumerated().allSatisfy({ $0.offset == i || $0.offset == j || $0.element == 0 }) {
                    if row[j] == 0 && row[i] != 0 {
                        let v = set.bound[r] / row[i]
                        if abs(v - (dataX0 + dataX1) / 2) < 2 * max(dataX1 - dataX0, 1e-9) { xs.append(v) }
                    } else if row[i] == 0 && row[j] != 0 {
                        let v = set.bound[r] / row[j]
                        if abs(v - (dataY0 + dataY1) / 2) < 2 * max(dataY1 - dataY0, 1e-9) { ys.append(v) }
                    }
                }
            }
        }
        guard var x0 = xs.min(), var x1 = xs.max(), var y0 = ys.min(), var y1 = ys.max() else { return "<svg xmlns=\"http://www.w3.org/2000/svg\"/>" }
        let padX = max(1e-9, (x1 - x0) * 0.15), padY = max(1e-9, (y1 - y0) * 0.15)
        x0 -= padX; x1 += padX; y0 -= padY; y1 += padY
        let width = 720.0, height = 540.0, margin = 50.0
        func px(_ x: Double) -> Double { margin + (x - x0) / (x1 - x0) * (width - 2 * margin) }
        func py(_ y: Double) -> Double { height - margin - (y - y0) / (y1 - y0) * (height - 2 * margin) }
        func f(_ v: Double) -> String { String(format: "%.2f", v) }
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        // Unsafe sets: the plot window clipped by each set's rows on these two coordinates.
        for set in system.unsafe {
            var poly = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
            var drawable = true
            for (r, row) in set.h.enumerated() {
                let others = row.enumerated().filter { $0.offset != i && $0.offset != j && $0.element != 0 }
                if !others.isEmpty { drawable = false; break }
                poly = clip(poly, a: row[i], b: row[j], c: set.bound[r])
            }
            if drawable && poly.count >= 3 {
                out += "<polygon points=\"" + poly.map { "\(f(px($0.0))),\(f(py($0.1)))" }.joined(separator: " ")
                    + "\" fill=\"#e74c3c\" fill-opacity=\"0.25\" stroke=\"#c0392b\"/>\n"
            }
        }
        for tr in trajectories.prefix(200) {
            out += "<polyline points=\"" + tr.map { "\(f(px($0[i]))),\(f(py($0[j])))" }.joined(separator: " ")
                + "\" fill=\"none\" stroke=\"#7f8c8d\" stroke-opacity=\"0.35\" stroke-width=\"0.8\"/>\n"
        }
        // ODE plants: the box over each period (dashed), under the sample-time boxes.
        for (lo, hi) in periodBoxes(tube) where lo[i].isFinite && hi[i].isFinite && lo[j].isFinite && hi[j].isFinite {
            out += "<rect x=\"\(f(px(lo[i])))\" y=\"\(f(py(hi[j])))\" width=\"\(f(px(hi[i]) - px(lo[i])))\" "
                + "height=\"\(f(py(lo[j]) - py(hi[j])))\" fill=\"none\" stroke=\"#8e44ad\" stroke-opacity=\"0.6\" "
                + "stroke-dasharray=\"4 3\"/>\n"
        }
        for s in tube.steps where s.lower[i].isFinite && s.upper[i].isFinite {
            let colour = s.safe ? "#2980b9" : "#e67e22"
            out += "<rect x=\"\(f(px(s.lower[i])))\" y=\"\(f(py(s.upper[j])))\" width=\"\(f(px(s.upper[i]) - px(s.lower[i])))\" "
                + "height=\"\(f(py(s.lower[j]) - py(s.upper[j])))\" fill=\"\(colour)\" fill-opacity=\"0.12\" stroke=\"\(colour)\"/>\n"
            out += "<text x=\"\(f(px(s.upper[i]) + 3))\" y=\"\(f(py(s.upper[j]) + 10))\" fill=\"\(colour)\">t=\(s.t)</text>\n"
        }
        // Axes.
        out += "<line x1=\"\(margin)\" y1=\"\(height - margin)\" x2=\"\(width - margin)\" y2=\"\(height - margin)\" stroke=\"black\"/>\n"
        out += "<line x1=\"\(margin)\" y1=\"\(margin)\" x2=\"\(margin)\" y2=\"\(height - margin)\" stroke=\"black\"/>\n"
        for k in 0...4 {
            let vx = x0 + (x1 - x0) * Double(k) / 4, vy = y0 + (y1 - y0) * Double(k) / 4
            out += "<text x=\"\(f(px(vx)))\" y=\"\(f(height - margin + 16))\" text-anchor=\"middle\">\(String(format: "%.3g", vx))</text>\n"
            out += "<text x=\"\(f(margin - 6))\" y=\"\(f(py(vy) + 4))\" text-anchor=\"end\">\(String(format: "%.3g", vy))</text>\n"
        }
        out += "<text x=\"\(f(width / 2))\" y=\"\(f(height - 10))\" text-anchor=\"middle\">x\(i)</text>\n"
        out += "<text x=\"14\" y=\"\(f(height / 2))\" transform=\"rotate(-90 14 \(f(height / 2)))\" text-anchor=\"middle\">x\(j)</text>\n"
        out += "<text x=\"\(margin)\" y=\"20\">verdict: \(tube.verdict.rawValue)\(tube.firstUnsafeStep.map { ", first non-safe step \($0)" } ?? "") — boxes: certified reach sets\(periodBoxes(tube).isEmpty ? "" : " (dashed: over each period)"); grey: simulated trajectories; red: unsafe</text>\n"
        out += "</svg>\n"
        return out
    }

    /// The boxes over the periods (ODE plants; none for others).
    static func periodBoxes(_ tube: ReachTube) -> [([Double], [Double])] {
        tube.steps.compactMap { s in s.intervalLower.flatMap { lo in s.intervalUpper.map { (lo, $0) } } }
    }

    /// Sutherland–Hodgman clip of a convex polygon by a·x + b·y ≤ c.
    static func clip(_ poly: [(Double, Double)], a: Double, b: Double, c: Double) -> [(Double, Double)] {
        var out: [(Double, Double)] = []
        for k in poly.indices {
            let p = poly[k], q = poly[(k + 1) % poly.count]
            let fp = a * p.0 + b * p.1 - c, fq = a * q.0 + b * q.1 - c
            if fp <= 0 { out.append(p) }
            if (fp < 0 && fq > 0) || (fp > 0 && fq < 0) {
                let t = fp / (fp - fq)
                out.append((p.0 + t * (q.0 - p.0), p.1 + t * (q.1 - p.1)))
            }
        }
        return out
    }
}
