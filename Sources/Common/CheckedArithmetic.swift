/// The product of `factors`, or nil when it does not fit in an Int: sizes computed from a file's
/// header or from flags are multiplied through this before anything is allocated from them.
///
///     checkedProduct(layers, 4, channels, channels)   // nil for channels = 10^9
public func checkedProduct(_ factors: Int...) -> Int? {
    var product = 1
    for f in factors {
        let (p, overflow) = product.multipliedReportingOverflow(by: f)
        if overflow { return nil }
        product = p
    }
    return product
}
