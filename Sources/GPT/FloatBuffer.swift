/// One zero-initialised, 64-byte aligned allocation of `Float`s, freed when released.
///
/// This is the only type in the module that allocates raw memory. Kernels receive plain
/// pointers into it (llm.c style: one allocation, a struct of views); every pointer handed out
/// stays valid as long as the owning buffer is alive, which the owners (`GPT2`, `AdamW`, the
/// activation sets) guarantee by holding the buffer for their own lifetime.
final class FloatBuffer {
    // Safety: `base` points to max(count, 1) Floats, bound to Float and initialised once in init
    // and deallocated once in deinit; nothing rebinds it. Views into it (`base + offset`, `carve`)
    // are handed only to the owner's kernels, which use them while the owner holds this buffer.
    let base: UnsafeMutablePointer<Float>
    let count: Int

    init(count: Int) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride,
                                                   alignment: 64)
        base = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        base.initialize(repeating: 0, count: max(count, 1))
    }

    deinit { UnsafeMutableRawPointer(base).deallocate() }

    var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: base, count: count) }

    func zero() { base.update(repeating: 0, count: count) }

    /// Calls `body` with the values as bytes (4 × count), e.g. to write them to a file.
    func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(buffer))
    }

    /// Calls `body` with the values as writable bytes (4 × count), e.g. to read them from a file.
    func withUnsafeMutableBytes<R, E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeMutableRawBufferPointer(buffer))
    }

    /// One buffer holding tensors of the given sizes, each starting on a 64-byte boundary, and
    /// pointers to them in order.
    static func carve(_ sizes: [Int]) -> (FloatBuffer, [UnsafeMutablePointer<Float>]) {
        let padded = sizes.map { ($0 + 15) / 16 * 16 }
        let buffer = FloatBuffer(count: padded.reduce(0, +))
        var pointers: [UnsafeMutablePointer<Float>] = [], p = buffer.base
        for n in padded { pointers.append(p); p += n }
        return (buffer, pointers)
    }
}
