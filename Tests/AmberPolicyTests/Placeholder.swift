// Tests for AmberPolicy land here.
