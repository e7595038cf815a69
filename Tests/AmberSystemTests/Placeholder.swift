// Tests for AmberSystem land here.
