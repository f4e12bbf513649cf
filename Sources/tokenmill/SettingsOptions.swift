import ArgumentParser
import Common

// The CLI's side of a settings group (`SettingsGroup`): an option group whose properties have
// the group's property names, all optional, so that the flags given are laid over the defaults
// (or over a stored run's settings) by the same decoding a pipeline file goes through. Its
// flag names (`--kebab-case` of the property, and the group's aliases) and the defaults in its
// help come from the group; the option group adds only the help text.

/// An option group for the settings group `Settings`.
protocol SettingsOptions: ParsableArguments, Encodable {
    associatedtype Settings: SettingsGroup
}

extension SettingsOptions {
    /// `base` (the defaults unless given) with the flags given on the command line laid over it.
    /// - Throws: `ValidationError` naming the flag when the result is not valid.
    func settings(over base: Settings = Settings()) throws -> Settings {
        let given = SettingsCoding.encode(self).filter { $0.value != .null && $0.value != .array([]) }
        do {
            return try SettingsCoding.decode(given, over: base)
        } catch {
            throw ValidationError("--\(Self.flagName(error.key)) \(error.message)")
        }
    }

    /// `--name` of a setting: its external name with dashes.
    static func flagName(_ property: String) -> String {
        dashed(SettingsCoding.externalName(property))
    }

    /// The flag names of a setting: `--kebab-case` of the property, then its aliases.
    static func names(_ property: String) -> NameSpecification {
        var names: [NameSpecification.Element] = [.customLong(flagName(property))]
        for (alias, target) in Settings.aliases.sorted(by: { $0.key < $1.key }) where target == property {
            names.append(.customLong(dashed(alias)))
        }
        return NameSpecification(names)
    }

    /// `text` with the setting's default: "Transformer layers (default: 4)."
    static func help<V>(_ text: String, _ key: KeyPath<Settings, V>, valueName: String? = nil) -> ArgumentHelp {
        ArgumentHelp("\(text) (default: \(Settings()[keyPath: key]))", valueName: valueName)
    }

    /// The same without the dynamic casts of `String(describing:)` (this runs at every start).
    static func help<V: CustomStringConvertible>(_ text: String, _ key: KeyPath<Settings, V>,
                                                 valueName: String? = nil) -> ArgumentHelp {
        ArgumentHelp("\(text) (default: \(Settings()[keyPath: key].description))", valueName: valueName)
    }

    /// The same for a choice: its default as it is written on the command line, its raw value
    /// (which `String(describing:)` would find by reflection, slowly, at every start).
    static func help<V: RawRepresentable>(_ text: String, _ key: KeyPath<Settings, V>,
                                          valueName: String? = nil) -> ArgumentHelp where V.RawValue == String {
        ArgumentHelp("\(text) (default: \(Settings()[keyPath: key].rawValue))", valueName: valueName)
    }

    private static func dashed(_ name: String) -> String { String(name.map { $0 == "_" ? "-" : $0 }) }
}

// The flags' values, for `SettingsCoding.encode`: what was given, or null.
extension Option: @retroactive Encodable where Value: Encodable {
    public func encode(to encoder: Encoder) throws { try wrappedValue.encode(to: encoder) }
}

extension Flag: @retroactive Encodable where Value: Encodable {
    public func encode(to encoder: Encoder) throws { try wrappedValue.encode(to: encoder) }
}
