import AmberMachineState
import Testing
@testable import AmberVMM

/// A machine state's memory layout is any 64-bit numbers once damaged or crafted (with a correct
/// checksum): validating it must refuse them, never overflow.
@Suite struct StateBoundsTests {
    private func layout(_ regions: [(address: UInt64, size: UInt64, offset: UInt64)]) -> GuestMemoryLayoutState {
        var layout = GuestMemoryLayoutState([])
        layout.regions = regions.map { .init(guestAddress: $0.address, size: $0.size, fileOffset: $0.offset) }
        return layout
    }

    @Test func regionSizesThatOverflowTheFileAreRefused() throws {
        let low: (UInt64, UInt64, UInt64) = (0, 64 << 20, 0)
        try layout([low]).validate()
        for size: UInt64 in [.max - 4095, .max & ~4095, 1 << 63] {
            // At guest address 0 its end fits; its end in the memory file (after the first region) does not.
            #expect(throws: MachineStateError.self) { try layout([low, (0, size, 64 << 20)]).validate() }
            #expect(throws: MachineStateError.self) { try layout([low, (4 << 30, size, 64 << 20)]).validate() }
            #expect(throws: MachineStateError.self) { try layout([(0, size, 0)]).validate() }
            #expect(throws: MachineStateError.self) { try layout([(4096, size, 0)]).validate() }
        }
    }
}
