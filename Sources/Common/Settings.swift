import Foundation

/// A group of settings defined once: its stored properties, with their defaults as initial
/// values, are the only definition. Everything else derives from them:
///
/// - the keys of a pipeline file's table (`snake_case` of the property names, plus `aliases`),
///   decoded over the defaults by `SettingsCoding.decode`, unknown keys refused with the
///   nearest known name;
/// - the CLI's flags (`--kebab-case` of the property names): an option group whose properties
///   have the same names is laid over the defaults the same way;
/// - fingerprints and comparisons (`SettingsCoding.fingerprint`, `SettingsCoding.differences`),
///   from the `Codable` encoding;
/// - one validation, `problem`, run after every decode.
///
/// Adding a setting is adding a stored property (and its help text on the CLI).
///
///     struct Sampling: SettingsGroup {
///         var temperature: Double = 1
///         var topK = 0
///         var problem: SettingsProblem? {
///             temperature >= 0 ? nil : SettingsProblem("temperature", "must not be negative")
///         }
///     }
///     let s: Sampling = try SettingsCoding.decode(["top_k": 40])   // temperature 1, topK 40
public protocol SettingsGroup: Codable, Equatable, Sendable {
    /// The defaults.
    init()
    /// Other names a file or flag may use for a property (short or earlier names): name → property.
    static var aliases: [String: String] { get }
    /// Properties users do not set (filled in from elsewhere, e.g. the corpus's vocabulary size).
    static var derivedKeys: Set<String> { get }
    /// Whole-number properties that may also be written as a size: `"100M"`, `"64KiB"`.
    static var sizeKeys: Set<String> { get }
    /// Why these settings cannot be used (the first problem found), or nil.
    var problem: SettingsProblem? { get }
}

extension SettingsGroup {
    public static var aliases: [String: String] { [:] }
    public static var derivedKeys: Set<String> { [] }
    public static var sizeKeys: Set<String> { [] }
    public var problem: SettingsProblem? { nil }
}

/// A setting that is wrong or unknown: the key (as the user wrote it, or the property's
/// external name) and what is wrong with it.
public struct SettingsProblem: Error, Equatable, Sendable, CustomStringConvertible {
    /// The property name (`learningRate`), or for an unknown key the key as given.
    public var key: String
    /// What is wrong, without the key: "must be at least 1, not 0".
    public var message: String

    public init(_ key: String, _ message: String) {
        self.key = key
        self.message = message
    }

    /// The key's `snake_case` name, as files write it.
    public var externalKey: String { SettingsCoding.externalName(key) }

    public var description: String { "\(externalKey): \(message)" }
}

/// A setting whose value is one of a few names (`boundary = "blank"`): decoding an unknown
/// name fails with the list of names and the nearest one.
public protocol SettingsChoice: RawRepresentable, CaseIterable, Codable, Sendable where RawValue == String {}

extension SettingsChoice {
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let name = try container.decode(String.self)
        guard let value = Self.named(name) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: Self.unknownNameMessage(name))
        }
        self = value
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// The case with this name (or, for types that have them, an alias).
    public static func named(_ name: String) -> Self? { Self(rawValue: name) }

    /// The names, as a user reads them: `"file", "blank" or "line"`.
    public static var namesList: String {
        let names = allCases.map { "\"\($0.rawValue)\"" }
        return names.count < 2 ? names.joined() : names.dropLast().joined(separator: ", ") + " or " + names.last!
    }

    public static func unknownNameMessage(_ name: String) -> String {
        "must be one of \(namesList), not \"\(name)\"" + didYouMean(name, allCases.map(\.rawValue))
    }
}

/// A setting's value as files and flags give it: JSON's kinds.
public enum SettingValue: Codable, Equatable, Sendable, CustomStringConvertible {
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case array([SettingValue])
    case object([String: SettingValue])
    case null

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .int(i) }
        else if let u = try? c.decode(UInt64.self) { self = .uint(u) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([SettingValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: SettingValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .uint(let u): try c.encode(u)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        case .null: try c.encodeNil()
        }
    }


    /// As a user would write it: `0.001`, `"blank"`, `["nfc"]`.
    public var description: String {
        switch self {
        case .bool(let b): return "\(b)"
        case .int(let i): return "\(i)"
        case .uint(let u): return "\(u)"
        case .double(let d): return "\(d)"
        case .string(let s): return "\"\(s)\""
        case .array(let a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .object(let o): return "{" + o.sorted { $0.key < $1.key }.map { "\($0.key) = \($0.value)" }.joined(separator: ", ") + "}"
        case .null: return "none"
        }
    }
}

/// Decoding settings over their defaults, their names, fingerprints and comparisons.
public enum SettingsCoding {
    /// The property names of `T`, in declaration order.
    public static func propertyNames<T: SettingsGroup>(_ type: T.Type) -> [String] {
        Mirror(reflecting: T()).children.compactMap(\.label)
    }

    /// The properties a user may set: all but the derived ones.
    public static func settableNames<T: SettingsGroup>(_ type: T.Type) -> [String] {
        propertyNames(type).filter { !T.derivedKeys.contains($0) }
    }

    /// `learningRate` → `learning_rate`, `invalidUTF8` → `invalid_utf8`: a word starts at a
    /// capital after a lower-case letter or a digit, and at the last capital of a run that a
    /// lower-case letter follows.
    public static func externalName(_ property: String) -> String {
        let chars = Array(property)
        var out = ""
        for (i, c) in chars.enumerated() {
            if c.isUppercase && i > 0 {
                let previous = chars[i - 1]
                let nextIsLower = i + 1 < chars.count && chars[i + 1].isLowercase
                if previous.isLowercase || previous.isNumber || (previous.isUppercase && nextIsLower) { out.append("_") }
            }
            out += c.lowercased()
        }
        return out
    }

    /// The property a user's key names: its external name, the property name itself or an alias.
    public static func property<T: SettingsGroup>(named key: String, in type: T.Type) -> String? {
        let names = settableNames(type)
        if let p = names.first(where: { externalName($0) == key }) { return p }
        if names.contains(key) { return key }
        if let p = T.aliases[key], names.contains(p) { return p }
        return nil
    }

    /// `base` (by default `T`'s defaults) with `values` laid over it. Keys may be external
    /// names, property names or aliases; a `sizeKeys` property may be a size string (`"100M"`).
    /// - Throws: `SettingsProblem` for an unknown key (with the nearest known name), a value
    ///   of the wrong type, or settings whose `problem` is not nil.
    public static func decode<T: SettingsGroup>(_ values: [String: SettingValue], over base: T = T()) throws(SettingsProblem) -> T {
        var merged = encode(base)
        let kinds = valueKinds(T.self)
        for (key, value) in values {
            guard let name = property(named: key, in: T.self) else {
                throw SettingsProblem(key, "unknown setting" + didYouMean(key, settableNames(T.self).map(externalName)))
            }
            if case .string(let s) = value, T.sizeKeys.contains(name) {
                guard let size = parseByteSize(s) else {
                    throw SettingsProblem(name, "must be a size (a whole number, or like \"100M\" or \"2GiB\"), not \(value)")
                }
                merged[name] = .int(size)
                continue
            }
            if let kind = kinds[name], !kind.accepts(value) {
                throw SettingsProblem(name, "must be \(kind.rawValue), not \(value)")
            }
            merged[name] = value
        }
        let decoded: T
        do {
            decoded = try JSONDecoder().decode(T.self, from: JSONEncoder().encode(merged))
        } catch let error as DecodingError {
            throw problem(error, values: merged)
        } catch {
            throw SettingsProblem("", "\(error)")
        }
        if let p = decoded.problem { throw p }
        return decoded
    }

    /// Settings as a file of TokenMill's wrote them (its JSON, keyed by property names), over the
    /// defaults: a file written before a setting existed reads as if it had the default. Derived
    /// properties are read too; unknown keys (from a later version) are ignored.
    /// - Throws: `SettingsProblem` when the data is not such JSON or a value has the wrong kind.
    public static func decodeStored<T: SettingsGroup>(_ type: T.Type, from data: Data) throws(SettingsProblem) -> T {
        guard case .object(let stored)? = try? JSONDecoder().decode(SettingValue.self, from: data) else {
            throw SettingsProblem("", "not a JSON object")
        }
        var merged = encode(T())
        for name in propertyNames(T.self) { if let value = stored[name] { merged[name] = value } }
        do {
            return try JSONDecoder().decode(T.self, from: JSONEncoder().encode(merged))
        } catch let error as DecodingError {
            throw problem(error, values: merged)
        } catch {
            throw SettingsProblem("", "\(error)")
        }
    }

    /// The settings as property name → value.
    public static func encode<T: Encodable>(_ value: T) -> [String: SettingValue] {
        let encoder = JSONEncoder()
        // A flag given as `nan` or `inf` becomes a string, which the kind check then refuses.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        guard let data = try? encoder.encode(value),
              case .object(let object)? = try? JSONDecoder().decode(SettingValue.self, from: data) else { return [:] }
        return object
    }

    /// Canonical JSON of the settings (keys sorted), leaving out `excluding`: equal settings give
    /// equal text, on every run and machine.
    public static func fingerprint<T: SettingsGroup>(_ value: T, excluding: Set<String> = []) -> String {
        var object = encode(value)
        for key in excluding { object.removeValue(forKey: key) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(object) else { return "" }
        return String(decoding: data, as: UTF8.self)
    }

    /// The settings that differ between `a` and `b`, in declaration order.
    public static func differences<T: SettingsGroup>(_ a: T, _ b: T) -> [(key: String, a: SettingValue, b: SettingValue)] {
        let x = encode(a), y = encode(b)
        return propertyNames(T.self).compactMap { name in
            let u = x[name] ?? .null, v = y[name] ?? .null
            return u == v ? nil : (name, u, v)
        }
    }

    /// What a setting's value must be, told from its Swift type (an integral `Float` default
    /// encodes as a whole number, so the encoding cannot tell).
    enum ValueKind: String {
        case bool = "true or false", whole = "a whole number", number = "a number", string = "a string", list = "a list"

        func accepts(_ value: SettingValue) -> Bool {
            switch (self, value) {
            case (.bool, .bool), (.string, .string), (.list, .array): return true
            case (.whole, .int), (.whole, .uint), (.number, .int), (.number, .uint), (.number, .double): return true
            default: return false
            }
        }
    }

    /// The kinds of `T`'s properties that have one (not optionals or nested groups).
    static func valueKinds<T: SettingsGroup>(_ type: T.Type) -> [String: ValueKind] {
        var kinds: [String: ValueKind] = [:]
        for child in Mirror(reflecting: T()).children {
            guard let label = child.label else { continue }
            switch child.value {
            case is Bool: kinds[label] = .bool
            case is Float, is Double: kinds[label] = .number
            case is Int, is Int64, is Int32, is Int16, is Int8, is UInt, is UInt64, is UInt32, is UInt16, is UInt8:
                kinds[label] = .whole
            case is String: kinds[label] = .string
            case let choice as any RawRepresentable where choice.rawValue is String: kinds[label] = .string
            default:
                if Mirror(reflecting: child.value).displayStyle == .collection { kinds[label] = .list }
            }
        }
        return kinds
    }

    /// A decoding error as a problem with the key it happened at.
    static func problem(_ error: DecodingError, values: [String: SettingValue]) -> SettingsProblem {
        func key(_ path: [CodingKey]) -> String { path.first?.stringValue ?? "" }
        func given(_ path: [CodingKey]) -> String { (values[key(path)] ?? .null).description }
        switch error {
        case let .typeMismatch(type, context):
            return SettingsProblem(key(context.codingPath), "must be \(typeName(type)), not \(given(context.codingPath))")
        case let .valueNotFound(type, context):
            return SettingsProblem(key(context.codingPath), "must be \(typeName(type))")
        case let .keyNotFound(missing, context):
            return SettingsProblem(key(context.codingPath + [missing]), "is missing")
        case let .dataCorrupted(context):
            // A value's own message ("must be one of …"), or a number out of its type's range.
            let message = context.debugDescription.hasPrefix("must be") ? context.debugDescription
                : "cannot be \(given(context.codingPath)): \(context.debugDescription)"
            return SettingsProblem(key(context.codingPath), message)
        @unknown default:
            return SettingsProblem("", "\(error)")
        }
    }

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Bool.Type: return "true or false"
        case is String.Type: return "a string"
        case is Float.Type, is Double.Type: return "a number"
        case is Int.Type, is Int64.Type, is Int32.Type, is UInt64.Type, is UInt32.Type: return "a whole number"
        default: return "\(type)".hasPrefix("Array") ? "a list" : "a value of type \(type)"
        }
    }
}

/// " (did you mean 'steps'?)" for the known name nearest to `word`, if it is near enough.
public func didYouMean(_ word: String, _ known: [String]) -> String {
    var best: (name: String, distance: Int)? = nil
    for name in known.sorted() {
        let d = editDistance(word.lowercased(), name.lowercased())
        if best == nil || d < best!.distance { best = (name, d) }
    }
    guard let best, best.distance <= max(2, word.count / 3) else { return "" }
    return "; did you mean '\(best.name)'?"
}

/// Levenshtein distance.
public func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var prev = Array(0...b.count)
    var cur = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        cur[0] = i
        for j in 1...b.count {
            let substitution = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, substitution)
        }
        swap(&prev, &cur)
    }
    return prev[b.count]
}

/// Parses sizes like `500000`, `10M`, `1.5G`, `64KiB` (K/M/G/T decimal, KiB/MiB/GiB/TiB binary).
public func parseByteSize(_ text: String) -> Int64? {
    let s = text.trimmingCharacters(in: .whitespaces)
    let units: [(String, Double)] = [("KiB", 1024), ("MiB", 1_048_576), ("GiB", 1_073_741_824), ("TiB", 1_099_511_627_776),
                                     ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12),
                                     ("K", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("B", 1)]
    for (suffix, factor) in units where s.uppercased().hasSuffix(suffix.uppercased()) {
        guard let v = Double(s.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), v >= 0 else { return nil }
        return Int64(v * factor)
    }
    guard let v = Int64(s), v >= 0 else { return nil }
    return v
}
