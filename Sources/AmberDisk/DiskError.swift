/// A disk that cannot be used as asked: an image or overlay that cannot be opened, read or written, an
/// overlay that no longer matches its base, a damaged map. One line naming the file and what to do.
public struct DiskError: Error, CustomStringConvertible, Equatable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
