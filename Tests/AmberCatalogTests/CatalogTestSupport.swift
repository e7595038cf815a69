import AmberTestSupport
import Foundation

func digest(_ seed: UInt8) -> [UInt8] { [UInt8](repeating: seed, count: 32) }
