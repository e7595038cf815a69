import CSystem
import Glibc

/// Text for the user on standard error, written straight to descriptor 2. C's `stderr` is a global
/// `var`, which Swift 6 will not let code that may run on any thread read; it is unbuffered, so a
/// direct write is what `fputs` to it did.
public enum StandardError {
    /// Writes all of `text`, looping over short writes. A failure is dropped: there is nowhere left
    /// to report it.
    public static func write(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var done = 0
            while done < bytes.count {
                guard
                    let written = try? retryingInterrupts(
                        "write",
                        {
                            Glibc.write(STDERR_FILENO, bytes.baseAddress! + done, bytes.count - done)
                        }), written > 0
                else { return }
                done += written
            }
        }
    }
}

/// Standard output as print(_:) writes it (C's stdout).
public enum StandardOutput {
    /// Line-buffered even when it is a pipe, so each finished line shows at once (a benchmark's table
    /// row as it is measured).
    public static func lineBuffered() {
        csystem_line_buffer_stdout()
    }
}
