// Tests for AmberVirtio land here.
