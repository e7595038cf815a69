import AmberNetwork

extension AmberHome {
    /// The home's networks (`<home>/networks`).
    public var networks: Networks { Networks(directory: networksDirectory.path) }
}
