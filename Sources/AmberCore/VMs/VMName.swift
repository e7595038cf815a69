/// VM names become directory names under the home and appear in socket paths, so they are restricted
/// to a portable, shell-safe alphabet; the first character excludes "." / ".." and option-like names.
public enum VMName {
    public static let maximumLength = 64

    public static func validate(_ name: String) throws {
        let bytes = Array(name.utf8)
        guard (1...maximumLength).contains(bytes.count),
            bytes.allSatisfy(isAllowed), isLetterOrDigit(bytes[0])
        else {
            throw VMRequestError.invalidName(name)
        }
    }

    private static func isLetterOrDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
            || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func isAllowed(_ byte: UInt8) -> Bool {
        isLetterOrDigit(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
    }
}
