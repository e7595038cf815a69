// Tests for AmberCore land here.
