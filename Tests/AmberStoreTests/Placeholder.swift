// Tests for AmberStore land here.
