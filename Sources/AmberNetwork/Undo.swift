/// What a multi-step host change has done so far, undone in reverse when a later step fails: a create or an
/// attach that fails midway leaves no bridge, table, dnsmasq, tap or file behind.
struct Undo {
    private var steps: [() -> Void] = []

    mutating func push(_ step: @escaping () -> Void) {
        steps.append(step)
    }

    /// Runs `work`; if it throws, undoes every step pushed so far (the newest first) and rethrows.
    static func running<T>(_ work: (inout Undo) throws(NetworkError) -> T) throws(NetworkError) -> T {
        var undo = Undo()
        do {
            return try work(&undo)
        } catch {
            for step in undo.steps.reversed() { step() }
            throw error
        }
    }
}
