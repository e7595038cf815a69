/// How a chunk's bytes sit in a pack record.
public enum ChunkCodec: UInt8, Sendable, CustomStringConvertible {
    case raw = 0
    case lz4 = 1
    /// The pages that differ from a base chunk: see AmberStore's `DeltaRecord`.
    case delta = 2

    public var description: String {
        switch self {
        case .raw: return "raw"
        case .lz4: return "lz4"
        case .delta: return "delta"
        }
    }

}
