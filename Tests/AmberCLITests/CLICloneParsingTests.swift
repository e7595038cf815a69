import AmberTestSupport
import Foundation
import Testing

/// `amber clone`'s plain spellings skip ArgumentParser (Sources/amber/FastClone.swift), parsed with the option
/// names `Clone` is defined with; every spelling must mean the same and fail the same way.
@Suite("amber clone arguments")
struct CLICloneParsingTests {
    @Test func plainAndOtherSpellingsGiveTheSameAnswer() throws {
        let home = try CLIHome()
        defer { home.remove() }
        let spellings = [
            ["clone", "0badc0de", "--name", "c1", "--detach"],  // by hand
            ["clone", "--name", "c1", "--detach", "0badc0de"],  // by hand, another order
            ["clone", "0badc0de", "--name=c1", "--detach"],  // ArgumentParser
        ]
        for arguments in spellings {
            let result = try home.amber(arguments)
            #expect(result.status == 64, "\(arguments)")
            #expect(result.errorLine == "no snapshot with id 0badc0de (see `amber snapshots`)", "\(arguments): \(result.stderr)")
        }
        let noName = try home.amber(["clone", "0badc0de", "--detach"])
        #expect(noName.status == 64)
        #expect(noName.stderr.contains("Missing expected argument '--name <name>'"), "\(noName.stderr)")
        let twice = try home.amber(["clone", "0badc0de", "--name", "a", "--name", "b"])
        #expect(twice.status != 0)
        let help = try home.amber(["clone", "--help"])
        #expect(help.status == 0 && help.stdout.contains("USAGE: amber clone"), "\(help.stdout)")
    }
}
