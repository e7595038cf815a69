import AmberSystem

/// How a process ended; lives in AmberSystem beside `ChildProcess`, named here for AmberCore's users.
public typealias ExitStatus = AmberSystem.ExitStatus
