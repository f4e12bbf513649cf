/// Memory for `count` values of a trivial type (integers, structs of integers), freed when the
/// last reference to it goes: the owner behind the raw pointers of this module's tables,
/// caches and buffers. It never moves or resizes; a table that grows takes a new allocation.
///
/// The hot loops keep `base` in a struct next to the reference (no class access per element,
/// so no reference counting and no runtime exclusivity check there).
///
/// Safety: `base` points to `count` allocated elements from `init` to `deinit`. A value that
/// stores a copy of `base` stores the allocation too, so the pointer is valid for as long as
/// that value exists, whatever other copies of it do.
@usableFromInline
final class Allocation<Element> {
    @usableFromInline let base: UnsafeMutablePointer<Element>
    @usableFromInline let count: Int

    /// Uninitialised memory (for a trivial `Element`, written before it is read).
    init(count: Int) {
        base = .allocate(capacity: Swift.max(count, 1))
        self.count = count
    }

    /// Memory with every element set to `value`.
    convenience init(count: Int, repeating value: Element) {
        self.init(count: count)
        base.initialize(repeating: value, count: count)
    }

    deinit { base.deallocate() }
}
