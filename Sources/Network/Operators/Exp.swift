import Foundation

/// y = e^z: increasing and convex; tangents below, the chord above. Where e^u
/// overflows the set has an infinite vertex and is unconstrained (bounds −∞).
public struct Exp: ElementwiseOperator {
    public init() {}
    public var description: String { "exp" }

    static let function = SmoothFunction(value: { Foundation.exp($0) }, derivative: { Foundation.exp($0) },
                                         ulps: LibmError.exp, slopeUlps: LibmError.exp)

    public func value(_ z: Double) -> Double { Foundation.exp(z) }
    public func derivative(_ z: Double) -> Double { Self.function.derivative(z) }

    public func interval(lower l: Double, upper u: Double) -> (lower: Double, upper: Double) {
        (max(0, LibmError.down(value(l), LibmError.exp)), LibmError.up(value(u), LibmError.exp))
    }

    public func relaxedSet(lower l: Double, upper u: Double) -> RelaxedSet {
        SmoothRelaxation.convex(Self.function, lower: l, upper: u)
    }
}
