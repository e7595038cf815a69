/// Mistakes in what the user asked of images and the store, each a one-line explanation with what to do.
public enum ImageError: Error, CustomStringConvertible, Equatable {
    case invalidName(String)
    case unknownImage(String)
    case duplicateName(String)
    case outputIsDirectory(String)
    case outputDirectoryMissing(String)
    case homeIsNotADirectory(String)
    case badLeaseTimeout(String)

    public var description: String {
        switch self {
        case .invalidName(let name):
            return "'\(name)' is not a valid image name; use 1-128 letters, digits, '.', '_' or '-', not starting with '.' or '-'"
        case .unknownImage(let name):
            return "no image named '\(name)'; `amber image ls` lists the images"
        case .duplicateName(let name):
            return "an image named '\(name)' already exists; choose another --name or remove it with `amber image rm \(name)`"
        case .outputIsDirectory(let path):
            return "\(path) is a directory; give the path of the file to write"
        case .outputDirectoryMissing(let path):
            return "the directory of \(path) does not exist; create it first"
        case .homeIsNotADirectory(let path):
            return "\(path) is not a directory; point --home (or $AMBER_HOME) at Amber's state directory"
        case .badLeaseTimeout(let text):
            return "AMBER_LEASE_TIMEOUT is '\(text)'; set it to a number of seconds (0 or more), or unset it for the default"
        }
    }

    static func validate(name: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard (1...128).contains(name.count), name.allSatisfy(allowed.contains),
            let first = name.first, first != ".", first != "-"
        else {
            throw ImageError.invalidName(name)
        }
    }
}
