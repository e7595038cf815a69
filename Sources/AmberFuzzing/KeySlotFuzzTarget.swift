import AmberStore

/// A key slot file (`store/keys/<id>`) as opening an encrypted store reads it: `KeySlot.parse`, which bounds
/// every number (scrypt's N, r and p above all: they size the derivation's memory) before anything uses it.
/// The derivation itself is not run here (a slot that parses costs scrypt's time by design).
enum KeySlotFuzzTarget {
    static func run(_ bytes: UnsafeRawBufferPointer) throws {
        let slot: KeySlot
        do {
            slot = try KeySlot.parse(Array(bytes))
        } catch {
            try requireOneLine(error, from: "the key slot parser")
            return
        }
        try require(slot.parameters.problem == nil, "slot accepted with scrypt parameters \(slot.parameters) out of bounds")
        try require((16...64).contains(slot.salt.count), "slot accepted with a \(slot.salt.count)-byte salt")
        try require(slot.wrapped.count == 60, "slot accepted with a \(slot.wrapped.count)-byte wrapped key")
        try require(slot.id.utf8.count == 16, "slot accepted with id '\(slot.id)'")
        let again = try KeySlot.parse(slot.encoded())
        try require(again == slot, "slot does not re-encode to itself")
    }
}
