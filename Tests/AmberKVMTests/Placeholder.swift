// Tests for AmberKVM land here.
